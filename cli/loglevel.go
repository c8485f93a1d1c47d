package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/alluxio-go/alluxio/daemon/client"
)

// logTarget is one process whose log level is read or set: the base of
// its web API (http://host:port/api/v1/master or .../worker).
type logTarget struct {
	name, api string
}

// logLevel runs `alluxio logLevel [--logName NAME] [--target T,...]
// [--level LEVEL]`: it prints, or with --level sets, the log level of the
// leading master, the workers or processes named by web host:port.
func logLevel(ctx context.Context, env *Env, args []string) error {
	fl := flag.NewFlagSet("logLevel", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	// Every process has one logger: --logName is accepted as Alluxio's
	// scripts pass it, and names nothing more.
	fl.String("logName", "alluxio", "logger name")
	targets := fl.String("target", "master,workers", "comma-separated: master, workers, or web host:port")
	level := fl.String("level", "", "new level: TRACE, DEBUG, INFO, WARN, ERROR, FATAL (omit to print)")
	if err := fl.Parse(args); err != nil || fl.NArg() > 0 {
		return usageError("usage: alluxio logLevel [--logName NAME] [--target master,workers,HOST:PORT] [--level LEVEL]")
	}
	c := newClient(env)
	defer c.Close()
	var list []logTarget
	for _, t := range strings.Split(*targets, ",") {
		t = strings.TrimSpace(t)
		switch t {
		case "":
		case "master":
			web, err := leaderWeb(ctx, env, c)
			if err != nil {
				return err
			}
			list = append(list, logTarget{name: "master " + web, api: "http://" + web + "/api/v1/master"})
		case "workers":
			ws, err := workerWebs(ctx, c)
			if err != nil {
				return err
			}
			list = append(list, ws...)
		default:
			if _, _, err := net.SplitHostPort(t); err != nil {
				return usageError("alluxio logLevel: target %q: want master, workers or a web host:port", t)
			}
			list = append(list, logTarget{name: t, api: "http://" + t})
		}
	}
	var failed []string
	for _, t := range list {
		got, err := callLogLevel(ctx, t, *level)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", t.name, err))
			continue
		}
		fmt.Fprintf(env.Stdout, "%s: level %s\n", t.name, got)
	}
	if len(failed) > 0 {
		return fmt.Errorf("logLevel: %s", strings.Join(failed, "; "))
	}
	return nil
}

// workerWebs lists the workers' web APIs from the master's worker list.
func workerWebs(ctx context.Context, c *client.Client) ([]logTarget, error) {
	info, err := c.Info(ctx)
	if err != nil {
		return nil, err
	}
	var out []logTarget
	for _, w := range info.Workers {
		host, _, err := net.SplitHostPort(w.Address)
		if err != nil || w.WebPort == 0 {
			continue
		}
		web := net.JoinHostPort(host, strconv.Itoa(w.WebPort))
		out = append(out, logTarget{name: "worker " + web, api: "http://" + web + "/api/v1/worker"})
	}
	return out, nil
}

// callLogLevel reads (level "") or sets the level of one process. A
// target given as a bare host:port is tried as a master, then a worker.
func callLogLevel(ctx context.Context, t logTarget, level string) (string, error) {
	apis := []string{t.api}
	if !strings.Contains(strings.TrimPrefix(t.api, "http://"), "/") {
		apis = []string{t.api + "/api/v1/master", t.api + "/api/v1/worker"}
	}
	var last error
	for _, api := range apis {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		method, body := http.MethodGet, io.Reader(nil)
		if level != "" {
			b, _ := json.Marshal(map[string]string{"level": level})
			method, body = http.MethodPost, bytes.NewReader(b)
		}
		req, err := http.NewRequestWithContext(ctx, method, api+"/loglevel", body)
		if err != nil {
			cancel()
			return "", err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			last = err
			continue
		}
		var v struct {
			Level string `json:"level"`
			Error string `json:"error"`
		}
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		cancel()
		switch {
		case resp.StatusCode == http.StatusNotFound:
			last = fmt.Errorf("no log level API at %s", api)
			continue
		case resp.StatusCode != http.StatusOK:
			return "", fmt.Errorf("%s: %s", resp.Status, v.Error)
		case err != nil:
			return "", err
		}
		return v.Level, nil
	}
	return "", last
}
