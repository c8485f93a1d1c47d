package daemon

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/daemon/conf"
	"github.com/alluxio-go/alluxio/meta"
)

// The web UI is server-rendered html/template pages over the same data
// the JSON API under /api/v1/ returns; templates and the style sheet are
// embedded in the binary, so the UI needs nothing from the network.
//
//go:embed webui/templates/*.html webui/static/*
var webuiFiles embed.FS

// uiPages are the page templates, each parsed with the shared layout.
var uiPages = parsePages("overview", "browse", "file", "workers", "mounts", "config",
	"metrics", "logs", "worker")

func parsePages(names ...string) map[string]*template.Template {
	out := make(map[string]*template.Template, len(names))
	for _, n := range names {
		out[n] = template.Must(template.New(n).Funcs(uiFuncs).ParseFS(webuiFiles,
			"webui/templates/layout.html", "webui/templates/"+n+".html"))
	}
	return out
}

// uiFuncs format values for the pages.
var uiFuncs = template.FuncMap{
	"bytes":   humanBytes,
	"percent": percent,
	"barwidth": func(used, capacity int64) string {
		if capacity <= 0 {
			return "0%"
		}
		return fmt.Sprintf("%.1f%%", min(100, 100*float64(used)/float64(capacity)))
	},
	"millis": func(ms int64) string { return formatTime(time.UnixMilli(ms)) },
	"nanos":  func(ns int64) string { return formatTime(time.Unix(0, ns)) },
	"since":  func(ms int64) string { return formatAge(time.Since(time.UnixMilli(ms))) },
	"mode":   formatMode,
	"metric": func(v float64) string { return fmt.Sprintf("%.10g", v) },
}

// navLink is one entry of the page header.
type navLink struct {
	Href, Label string
}

// uiPage is what every page template is given.
type uiPage struct {
	// Role is "master" or "worker".
	Role    string
	Title   string
	Version string
	Nav     []navLink
	// Active is the Href of the current page in Nav.
	Active string
	// NotLeader is set on a master that is not the serving leader.
	NotLeader *leaderNote
	// Error is shown above the content, HTML-escaped.
	Error string
	Data  any
}

// leaderNote tells a follower's visitors where the leader is.
type leaderNote struct {
	State string `json:"state"`
	// Leader is the leader's RPC address, "" when unknown.
	Leader string `json:"leader,omitempty"`
	// LeaderWeb is the leader's web UI, assuming it uses this master's
	// web port (alluxio.master.web.port is usually the same on all).
	LeaderWeb string `json:"leaderWeb,omitempty"`
}

// webUI holds what the pages shared by masters and workers need.
type webUI struct {
	role   string
	nav    []navLink
	log    *slog.Logger
	level  *slog.LevelVar
	conf   *conf.Config
	banner func() *leaderNote // nil on workers
}

// render executes a page into a buffer, so that a template error does
// not leave half a page behind.
func (u *webUI) render(rw http.ResponseWriter, status int, name, title, active string, data any, errMsg string) {
	p := uiPage{Role: u.role, Title: title, Version: Version, Nav: u.nav, Active: active, Error: errMsg, Data: data}
	if u.banner != nil {
		p.NotLeader = u.banner()
	}
	var buf bytes.Buffer
	if err := uiPages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		u.log.Error("web page failed", "page", name, "err", err)
		http.Error(rw, "page "+name+": internal error", http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.Header().Set("X-Content-Type-Options", "nosniff")
	rw.WriteHeader(status)
	rw.Write(buf.Bytes())
}

// writeJSONStatus is writeJSON with a status code.
func writeJSONStatus(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	enc := json.NewEncoder(rw)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// apiError is the body of a failed API call.
type apiError struct {
	Error string `json:"error"`
}

// commonRoutes serves what masters and workers share: the style sheet,
// the configuration and the log level, as pages and under apiPrefix
// (/api/v1/master or /api/v1/worker).
func (u *webUI) commonRoutes(mux *http.ServeMux, apiPrefix string) {
	static, err := fs.Sub(webuiFiles, "webui/static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /config", func(rw http.ResponseWriter, r *http.Request) {
		if u.conf == nil {
			u.render(rw, http.StatusNotFound, "config", "Configuration", "/config", nil,
				"this process was started without a configuration to show")
			return
		}
		u.render(rw, http.StatusOK, "config", "Configuration", "/config", configView(u.conf), "")
	})
	mux.HandleFunc("GET "+apiPrefix+"/config", func(rw http.ResponseWriter, r *http.Request) {
		if u.conf == nil {
			writeJSONStatus(rw, http.StatusNotFound, apiError{"no configuration"})
			return
		}
		writeJSON(rw, configView(u.conf))
	})
	mux.HandleFunc("GET /logs", func(rw http.ResponseWriter, r *http.Request) {
		u.render(rw, http.StatusOK, "logs", "Log level", "/logs", u.levelView(), "")
	})
	mux.HandleFunc("POST /logs", func(rw http.ResponseWriter, r *http.Request) {
		if err := u.setLevel(r); err != nil {
			u.render(rw, statusOf(err), "logs", "Log level", "/logs", u.levelView(), err.Error())
			return
		}
		http.Redirect(rw, r, "/logs", http.StatusSeeOther)
	})
	mux.HandleFunc("GET "+apiPrefix+"/loglevel", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, u.levelView())
	})
	mux.HandleFunc("POST "+apiPrefix+"/loglevel", func(rw http.ResponseWriter, r *http.Request) {
		if err := u.setLevel(r); err != nil {
			writeJSONStatus(rw, statusOf(err), apiError{err.Error()})
			return
		}
		writeJSON(rw, u.levelView())
	})
}

// levelView is the log level as the logs page and API show it.
type levelView struct {
	Level  string   `json:"level"`
	Levels []string `json:"levels"`
}

func (u *webUI) levelView() levelView {
	return levelView{Level: levelName(u.level.Level()), Levels: logLevels}
}

// errForbidden marks a request refused for where it came from.
var errForbidden = fmt.Errorf("cross-origin request refused: %w", os.ErrPermission)

// setLevel sets the log level from the form or query value "level", or a
// JSON body {"level": "DEBUG"}. A browser's cross-origin POST is refused,
// so that another site cannot turn a daemon's logging up.
func (u *webUI) setLevel(r *http.Request) error {
	if !sameOrigin(r) {
		return errForbidden
	}
	s := r.FormValue("level")
	if s == "" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var body struct {
			Level string `json:"level"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&body); err == nil {
			s = body.Level
		}
	}
	l, err := parseLogLevel(s)
	if err != nil {
		return err
	}
	old := u.level.Level()
	u.level.Set(l)
	u.log.Info("log level changed from the web UI", "from", levelName(old), "to", levelName(l), "remote", r.RemoteAddr)
	return nil
}

// sameOrigin reports whether a request carries no Origin header (not a
// browser's cross-site request) or one naming this host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	ou, err := url.Parse(o)
	return err == nil && ou.Host == r.Host
}

// propertyView is one configuration property as the UI shows it.
type propertyView struct {
	Key string `json:"key"`
	// Value is masked for credentials (conf.Config.Masked).
	Value string `json:"value"`
	// Source is the layer that set it: default, alluxio-env.sh,
	// alluxio-site.properties, environment or flag (-D).
	Source string `json:"source"`
	// Where is the file or environment variable it came from.
	Where       string `json:"where,omitempty"`
	Description string `json:"description,omitempty"`
}

// configView lists every property with its masked value and source.
func configView(c *conf.Config) []propertyView {
	desc := map[string]string{}
	for _, p := range conf.Properties() {
		desc[p.Key] = p.Description
	}
	keys := c.Keys()
	out := make([]propertyView, 0, len(keys))
	for _, k := range keys {
		src, where := c.Source(k)
		out = append(out, propertyView{Key: k, Value: c.Masked(k), Source: src.String(), Where: where,
			Description: desc[k]})
	}
	return out
}

// statusOf is the HTTP status for an error, by its errno class.
func statusOf(err error) int {
	var nl *meta.NotLeaderError
	switch {
	case errors.As(err, &nl):
		return http.StatusServiceUnavailable
	case errors.Is(err, fs.ErrNotExist):
		return http.StatusNotFound
	case errors.Is(err, fs.ErrPermission):
		return http.StatusForbidden
	case errors.Is(err, syscall.EINVAL), errors.Is(err, syscall.ENOTDIR):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// humanBytes formats a byte count as the CLI shows sizes.
func humanBytes(n int64) string { return conf.HumanBytes(n) }

func percent(used, capacity int64) string {
	if capacity <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(used)/float64(capacity))
}

func formatTime(t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// formatAge is a duration rounded for people.
func formatAge(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

// formatMode renders permission bits as ls does.
func formatMode(mode uint32, isDir, isSymlink bool) string {
	m := fs.FileMode(mode & 0o777)
	if mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	switch {
	case isDir:
		m |= fs.ModeDir
	case isSymlink:
		m |= fs.ModeSymlink
	}
	return m.String()
}
