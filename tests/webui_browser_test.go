package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// webUISecret is set in alluxio-site.properties and must show on no page.
const webUISecret = "SHOULD-NOT-SHOW"

// TestWebUIInBrowser loads every page of the master's web UI in headless
// Chromium, as a visitor would, and checks what the pages show against
// what the CLI prints for the same cluster: the overview's workers and
// capacity, the listing's sizes, a file's size, persisted flag and block
// homes, the worker's tier, the root mount and the configuration with its
// credential masked. File pages are reached by following the links the
// listing holds. A screenshot of each page is saved in the test's
// artifact directory (kept with go test -artifacts -outputdir DIR).
func TestWebUIInBrowser(t *testing.T) {
	browser := chromiumPath(t)
	began := time.Now()
	c := newCluster(t, map[string]string{
		// Small blocks, so that one file has several block homes to show.
		"alluxio.user.block.size.bytes.default": "1MB",
		"s3a.secretKey":                         webUISecret,
	})
	// A file the namespace learns of from the under-store.
	if err := os.MkdirAll(filepath.Join(c.ufs, "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.ufs, "web", "under.txt"), bytes.Repeat([]byte("u"), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	c.start()
	c.waitReport("Live Workers: 1", 30*time.Second)

	// One through the mount, its name with a space for the links to escape.
	if err := os.WriteFile(filepath.Join(c.mnt, "web", "mounted file.bin"), webRandom(t, 300<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	local := t.TempDir()
	if err := os.WriteFile(filepath.Join(local, "copied.bin"), webRandom(t, 5<<19), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(local, "cached.bin"), webRandom(t, 100<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	c.must("alluxio", "fs", "copyFromLocal", filepath.Join(local, "copied.bin"), "/web/copied.bin")
	c.must("alluxio", "-Dalluxio.user.file.writetype.default=MUST_CACHE", "fs", "copyFromLocal",
		filepath.Join(local, "cached.bin"), "/web/cached.bin")
	// The logs page must show a level the CLI set, not just the default.
	c.must("alluxio", "logLevel", "--target", "master", "--level", "DEBUG")

	// What the CLI says of the same cluster.
	report := c.must("alluxio", "fsadmin", "report")
	rawLs := parseWebLs(t, c.must("alluxio", "fs", "ls", "/web"))
	humanLs := parseWebLs(t, c.must("alluxio", "fs", "ls", "-h", "/web"))
	files := []string{"cached.bin", "copied.bin", "mounted file.bin", "under.txt"}
	if len(rawLs) != len(files) {
		t.Fatalf("fs ls /web lists %d entries, want %v: %v", len(rawLs), files, rawLs)
	}
	for _, f := range files {
		want := "PERSISTED"
		if f == "cached.bin" {
			want = "NOT_PERSISTED"
		}
		if e, ok := rawLs["/web/"+f]; !ok || e.state != want {
			t.Fatalf("fs ls /web: %s is %+v, want %s", f, e, want)
		}
	}

	h := &headless{bin: browser, shots: t.ArtifactDir(), profiles: t.TempDir()}
	t.Logf("screenshots in %s", h.shots)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	base := fmt.Sprintf("http://127.0.0.1:%d", c.webPort)
	doms := h.loadAll(t, ctx, []webPageLoad{
		{"overview", base + "/"}, {"browse-root", base + "/browse"}, {"workers", base + "/workers"},
		{"mounts", base + "/mounts"}, {"config", base + "/config"}, {"metrics", base + "/ui/metrics"},
		{"logs", base + "/logs"},
	})
	// Follow the listing's links, as a visitor would: to /web, then to each file.
	dirLink := findWebLink(t, doms["browse-root"], "web/")
	for name, dom := range h.loadAll(t, ctx, []webPageLoad{{"browse-web", base + dirLink}}) {
		doms[name] = dom
	}
	var fileLoads []webPageLoad
	for i, f := range files {
		fileLoads = append(fileLoads, webPageLoad{fmt.Sprintf("file-%d", i), base + findWebLink(t, doms["browse-web"], f)})
	}
	for name, dom := range h.loadAll(t, ctx, fileLoads) {
		doms[name] = dom
	}

	titles := map[string][2]string{ // page: h1, active nav entry
		"overview": {"Overview", "Overview"}, "browse-root": {"Browse", "Browse"}, "browse-web": {"Browse", "Browse"},
		"workers": {"Workers", "Workers"}, "mounts": {"Mount table", "Mounts"}, "config": {"Configuration", "Configuration"},
		"metrics": {"Metrics", "Metrics"}, "logs": {"Log level", "Logs"},
	}
	for i := range files {
		titles[fmt.Sprintf("file-%d", i)] = [2]string{"File", "Browse"}
	}
	for name, want := range titles {
		checkWebPage(t, name, doms[name], want[0], want[1])
	}

	t.Run("overview", func(t *testing.T) {
		cards := webCards(doms["overview"])
		capBytes := webField(t, c.must("alluxio", "fs", "getCapacityBytes"), `Capacity Bytes: (\d+)`)
		n, _ := strconv.ParseInt(capBytes, 10, 64)
		for label, want := range map[string]string{
			"Live workers": webField(t, report, `Live Workers: (\d+)`),
			"Capacity":     webField(t, report, `Total Capacity: (\S+)`),
			"Leader":       webField(t, report, `Master Address: (\S+)`),
			"Version":      webField(t, report, `Version: (\S+)`),
			"Mounts":       strconv.Itoa(len(strings.Split(strings.TrimSpace(c.must("alluxio", "fs", "mount")), "\n"))),
		} {
			if got := cards[label]; got != want {
				t.Errorf("overview card %q shows %q, the CLI %q", label, got, want)
			}
		}
		if got, want := cards["Capacity"], webHumanBytes(n); got != want {
			t.Errorf("overview capacity %q, fs getCapacityBytes %d bytes (%s)", got, n, want)
		}
	})

	t.Run("browse", func(t *testing.T) {
		root := webRows(doms["browse-root"])
		if r := webRow(root, "web/"); r == nil {
			t.Errorf("/browse does not list web/: %v", root)
		}
		rows := webRows(doms["browse-web"])
		for _, f := range files {
			p := "/web/" + f
			r := webRow(rows, f)
			if len(r) != 7 {
				t.Errorf("/browse?path=/web: row of %q is %q", f, r)
				continue
			}
			raw, human := rawLs[p], humanLs[p]
			persisted := map[bool]string{true: "yes", false: "no"}[raw.state == "PERSISTED"]
			for _, cmp := range []struct{ what, got, want string }{
				{"size", r[1], human.size}, {"mode", r[2], raw.mode}, {"owner", r[3], raw.owner},
				{"persisted", r[5], persisted},
			} {
				if cmp.got != cmp.want {
					t.Errorf("/browse?path=/web: %s of %s is %q, fs ls says %q", cmp.what, f, cmp.got, cmp.want)
				}
			}
		}
		if want := fmt.Sprintf("%d entries", len(rawLs)); !strings.Contains(webText(doms["browse-web"]), want) {
			t.Errorf("/browse?path=/web does not say %q", want)
		}
	})

	t.Run("file", func(t *testing.T) {
		for i, f := range files {
			p := "/web/" + f
			dom := doms[fmt.Sprintf("file-%d", i)]
			stat := c.must("alluxio", "fs", "stat", p)
			length := webField(t, stat, `length=(\d+)`)
			persisted := webField(t, stat, `persisted=(true|false)`) == "true"
			location := webField(t, stat, `location=([^,}]*)`)
			wantPersisted := "yes"
			if !persisted {
				wantPersisted = "no, only copy on " + location
			}
			rows := webRows(dom)
			for _, cmp := range []struct{ key, want string }{
				{"Path", p},
				{"Inode id", webField(t, stat, `FileInfo\{id=(\d+)`)},
				{"Size", humanLs[p].size + " (" + length + " bytes)"},
				{"Persisted", wantPersisted},
			} {
				if r := webRow(rows, cmp.key); len(r) != 2 || r[1] != cmp.want {
					t.Errorf("page of %s: %s row %q, the CLI says %q", p, cmp.key, r, cmp.want)
				}
			}
			if r := webRow(rows, "Under-store path"); persisted && (len(r) != 2 || !strings.HasSuffix(r[1], p)) {
				t.Errorf("page of %s: under-store path %q", p, r)
			}

			// Block homes, as fs location prints them.
			var want [][]string
			for _, m := range webLocationLine.FindAllStringSubmatch(c.must("alluxio", "fs", "location", p), -1) {
				off, _ := strconv.ParseInt(m[2], 10, 64)
				end, _ := strconv.ParseInt(m[3], 10, 64)
				want = append(want, []string{m[1], m[2], webHumanBytes(end - off), m[4]})
			}
			var got [][]string
			for _, r := range rows {
				if len(r) == 4 && webNumber.MatchString(r[0]) {
					got = append(got, r)
				}
			}
			if len(want) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("page of %s: blocks %q, fs location says %q", p, got, want)
			}
			// The master asked the worker for the pages it holds.
			worker := webField(t, report, `Worker (\S+): capacity`)
			r := webRow(rows, worker)
			if len(r) != 4 || r[3] != "" {
				t.Errorf("page of %s: pages cached on %s: %q", p, worker, r)
			} else if !persisted && (r[1] != r[2] || r[1] == "0") {
				t.Errorf("page of %s: the only copy is on %s, which holds %s of %s pages", p, worker, r[1], r[2])
			}
		}
	})

	t.Run("workers", func(t *testing.T) {
		dom := doms["workers"]
		addr := webField(t, report, `Worker (\S+): capacity`)
		wantHref := "http://127.0.0.1:" + c.props["alluxio.worker.web.port"] + "/"
		if l := webLinks(dom, addr); len(l) != 1 || l[0].href != wantHref {
			t.Errorf("/workers: link of worker %s is %+v, want href %s", addr, l, wantHref)
		}
		rows := webRows(dom)
		if r := webRow(rows, "Capacity"); len(r) != 2 || r[1] != webField(t, report, `Worker \S+: capacity (\S+),`) {
			t.Errorf("/workers: capacity row %q; fsadmin report:\n%s", r, report)
		}
		tier := regexp.MustCompile(`Tier (\d+) (\S+) (\S+): capacity (\S+), used`).FindStringSubmatch(report)
		if tier == nil {
			t.Fatalf("fsadmin report names no tier:\n%s", report)
		}
		if tier[3] != c.props["alluxio.worker.tieredstore.level0.dirs.path"] {
			t.Errorf("fsadmin report: tier dir %s, configured %s", tier[3], c.props["alluxio.worker.tieredstore.level0.dirs.path"])
		}
		r := webRow(rows, tier[1])
		if len(r) != 7 || r[1] != tier[2] || r[2] != tier[3] || r[4] != tier[4] || r[6] != "ok" {
			t.Errorf("/workers: tier row %q, fsadmin report says %q", r, tier[0])
		}
	})

	t.Run("mounts", func(t *testing.T) {
		m := regexp.MustCompile(`(?m)^(\S+)  on  /  \(`).FindStringSubmatch(c.must("alluxio", "fs", "mount"))
		if m == nil {
			t.Fatal("fs mount lists no root mount")
		}
		var root []string
		for _, r := range webRows(doms["mounts"]) {
			if len(r) == 6 && r[1] == "/" {
				root = r
			}
		}
		if root == nil || root[2] != m[1] || !webNumber.MatchString(root[0]) {
			t.Errorf("/mounts: root mount row %q, fs mount says %s on /", root, m[1])
		}
		if !strings.Contains(m[1], c.ufs) {
			t.Errorf("fs mount: root is %s, want the under-store %s", m[1], c.ufs)
		}
	})

	t.Run("config", func(t *testing.T) {
		rows := webRows(doms["config"])
		site := filepath.Join(c.home, "conf", "alluxio-site.properties")
		writeType := strings.TrimSpace(c.must("alluxio", "getConf", "alluxio.user.file.writetype.default"))
		for _, want := range [][]string{
			{"s3a.secretKey", "******", "alluxio-site.properties " + site},
			{"alluxio.master.web.port", strconv.Itoa(c.webPort), "alluxio-site.properties " + site},
			{"alluxio.user.file.writetype.default", writeType, "default"},
		} {
			if r := webRow(rows, want[0]); fmt.Sprint(r) != fmt.Sprint(want) {
				t.Errorf("/config: row %q, want %q", r, want)
			}
		}
		for name, dom := range doms {
			if strings.Contains(dom, webUISecret) {
				t.Errorf("page %s shows the secret set in alluxio-site.properties", name)
			}
		}
		logs, _ := filepath.Glob(filepath.Join(c.home, "logs", "*.log"))
		for _, l := range logs {
			if data, err := os.ReadFile(l); err == nil && bytes.Contains(data, []byte(webUISecret)) {
				t.Errorf("%s holds the secret set in alluxio-site.properties", filepath.Base(l))
			}
		}
	})

	t.Run("metrics", func(t *testing.T) {
		rows := webRows(doms["metrics"])
		for key, want := range map[string]string{
			"Cluster.Workers":       webField(t, report, `Live Workers: (\d+)`),
			"Cluster.CapacityTotal": webField(t, c.must("alluxio", "fs", "getCapacityBytes"), `Capacity Bytes: (\d+)`),
		} {
			if r := webRow(rows, key); len(r) != 2 || r[1] != want {
				t.Errorf("/ui/metrics: row %q, want %s", r, want)
			}
		}
	})

	t.Run("logs", func(t *testing.T) {
		dom := doms["logs"]
		want := webField(t, c.must("alluxio", "logLevel", "--target", "master"), `: level (\S+)`)
		if m := regexp.MustCompile(`id="current-level">([^<]*)<`).FindStringSubmatch(dom); m == nil || m[1] != want {
			t.Errorf("/logs: current level %q, alluxio logLevel says %s", m, want)
		}
		if m := regexp.MustCompile(`<option value="(\w+)" selected`).FindStringSubmatch(dom); m == nil || m[1] != want {
			t.Errorf("/logs: selected level %q, want %s", m, want)
		}
	})
	t.Logf("took %v", time.Since(began).Round(time.Millisecond))
}

// chromiumPath finds Chromium, or skips the test without it (and fails it
// when CI is set, where tests/install-deps.sh should have installed it).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
		t.Fatal("chromium is not installed and CI is set; tests/install-deps.sh installs it")
	}
	t.Skip("chromium is not installed (tests/install-deps.sh installs it); skipping the browser test")
	return ""
}

// webChromiumFlags run Chromium headless as root with no network use of
// its own: this machine refuses outside connections.
var webChromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--window-size=1280,900", "--virtual-time-budget=2000",
}

// headless loads pages in Chromium, one process per page.
type headless struct {
	bin string
	// shots is where the screenshots go; profiles holds a fresh
	// user-data-dir for each process.
	shots, profiles string
}

// webPageLoad is one page to load, named for its screenshot.
type webPageLoad struct {
	name, url string
}

// loadAll loads the pages, a few at a time, and returns each one's DOM by
// name; any failed load fails the test.
func (h *headless) loadAll(t *testing.T, ctx context.Context, pages []webPageLoad) map[string]string {
	t.Helper()
	doms := make([]string, len(pages))
	errs := make([]error, len(pages))
	slots := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, p := range pages {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			doms[i], errs[i] = h.load(ctx, p.name, p.url)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string, len(pages))
	for i, p := range pages {
		out[p.name] = doms[i]
	}
	return out
}

// load runs Chromium on url; it returns the DOM as it stands once the
// page's scripts ran and saves a 1280x900 screenshot as name.png.
func (h *headless) load(ctx context.Context, name, url string) (string, error) {
	profile, err := os.MkdirTemp(h.profiles, name+"-")
	if err != nil {
		return "", err
	}
	shot := filepath.Join(h.shots, name+".png")
	args := append(append([]string{}, webChromiumFlags...), "--user-data-dir="+profile,
		"--dump-dom", "--screenshot="+shot, url)
	cmd := exec.CommandContext(ctx, h.bin, args...)
	// On a timeout, kill the launcher script and every Chromium process
	// it started: they share its process group, which lives while the
	// launcher is not yet reaped.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("chromium %s: %w\n%s", url, err, tail(stderr.String(), 20))
	}
	if err := checkPNG(shot, 1280, 900); err != nil {
		return "", fmt.Errorf("chromium %s: screenshot: %w\n%s", url, err, tail(stderr.String(), 20))
	}
	if !strings.Contains(stdout.String(), "</html>") {
		return "", fmt.Errorf("chromium %s: no DOM printed:\n%s\n%s", url, stdout.String(), tail(stderr.String(), 20))
	}
	return stdout.String(), nil
}

// checkPNG checks that file is a PNG image of the given size.
func checkPNG(file string, width, height uint32) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if len(data) < 24 || string(data[:8]) != "\x89PNG\r\n\x1a\n" || string(data[12:16]) != "IHDR" {
		return fmt.Errorf("%s: not a PNG image (%d bytes)", file, len(data))
	}
	if w, h := binary.BigEndian.Uint32(data[16:20]), binary.BigEndian.Uint32(data[20:24]); w != width || h != height {
		return fmt.Errorf("%s: %dx%d, want %dx%d", file, w, h, width, height)
	}
	return nil
}

// checkWebPage checks what every page has: its title, the active entry of
// the header, the footer, and no error message.
func checkWebPage(t *testing.T, name, dom, title, active string) {
	t.Helper()
	if m := regexp.MustCompile(`(?s)<h1>(.*?)</h1>`).FindStringSubmatch(dom); m == nil || webText(m[1]) != title {
		t.Errorf("page %s: heading %q, want %q (is it an error page?)\n%s", name, m, title, tail(dom, 30))
	}
	if m := regexp.MustCompile(`(?s)<p class="error">(.*?)</p>`).FindStringSubmatch(dom); m != nil {
		t.Errorf("page %s shows an error: %s", name, webText(m[1]))
	}
	var got []string
	for _, l := range webLinks(dom, "") {
		if l.class == "active" {
			got = append(got, l.text)
		}
	}
	if len(got) != 1 || got[0] != active {
		t.Errorf("page %s: active header entries %q, want %q", name, got, active)
	}
	if !strings.Contains(dom, "<footer>alluxio-go") {
		t.Errorf("page %s has no footer", name)
	}
}

var (
	webTag          = regexp.MustCompile(`(?s)<[^>]*>`)
	webScript       = regexp.MustCompile(`(?is)<(script|style)\b.*?</(script|style)>`)
	webSpace        = regexp.MustCompile(`\s+`)
	webTR           = regexp.MustCompile(`(?s)<tr\b[^>]*>(.*?)</tr>`)
	webCell         = regexp.MustCompile(`(?s)<t[hd]\b[^>]*>(.*?)</t[hd]>`)
	webAnchor       = regexp.MustCompile(`(?s)<a\b([^>]*)>(.*?)</a>`)
	webAttr         = regexp.MustCompile(`([\w-]+)="([^"]*)"`)
	webCard         = regexp.MustCompile(`(?s)<div class="label">(.*?)</div>\s*<div class="value">(.*?)</div>`)
	webNumber       = regexp.MustCompile(`^\d+$`)
	webLocationLine = regexp.MustCompile(`block (\d+) \[(\d+), (\d+)\): (\S+)`)
)

// webText is the text of an HTML fragment, whitespace collapsed.
func webText(s string) string {
	s = webScript.ReplaceAllString(s, " ")
	s = html.UnescapeString(webTag.ReplaceAllString(s, ""))
	return strings.TrimSpace(webSpace.ReplaceAllString(s, " "))
}

// webRows returns the text of the cells of every table row in dom.
func webRows(dom string) [][]string {
	var rows [][]string
	for _, tr := range webTR.FindAllStringSubmatch(dom, -1) {
		var cells []string
		for _, td := range webCell.FindAllStringSubmatch(tr[1], -1) {
			cells = append(cells, webText(td[1]))
		}
		rows = append(rows, cells)
	}
	return rows
}

// webRow is the first row whose first cell is first, or nil.
func webRow(rows [][]string, first string) []string {
	for _, r := range rows {
		if len(r) > 0 && r[0] == first {
			return r
		}
	}
	return nil
}

// webLink is an anchor of a page.
type webLink struct {
	href, class, text string
}

// webLinks lists the anchors of dom whose text is text, or all for "".
func webLinks(dom, text string) []webLink {
	var out []webLink
	for _, m := range webAnchor.FindAllStringSubmatch(dom, -1) {
		l := webLink{text: webText(m[2])}
		for _, a := range webAttr.FindAllStringSubmatch(m[1], -1) {
			switch a[1] {
			case "href":
				l.href = html.UnescapeString(a[2])
			case "class":
				l.class = a[2]
			}
		}
		if text == "" || l.text == text {
			out = append(out, l)
		}
	}
	return out
}

// findWebLink is the href of the one link of dom whose text is text.
func findWebLink(t *testing.T, dom, text string) string {
	t.Helper()
	l := webLinks(dom, text)
	if len(l) != 1 || !strings.HasPrefix(l[0].href, "/browse?") {
		t.Fatalf("want one /browse link %q in the page, found %+v", text, l)
	}
	return l[0].href
}

// webCards maps the overview's card labels to their values.
func webCards(dom string) map[string]string {
	out := map[string]string{}
	for _, m := range webCard.FindAllStringSubmatch(dom, -1) {
		out[webText(m[1])] = webText(m[2])
	}
	return out
}

// webField is the first submatch of re in out; it fails the test when
// out does not match.
func webField(t *testing.T, out, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %s in:\n%s", re, out)
	}
	return m[1]
}

// webLsEntry is one line of alluxio fs ls.
type webLsEntry struct {
	mode, owner, size, state string
}

// parseWebLs maps the paths alluxio fs ls printed to their entries.
func parseWebLs(t *testing.T, out string) map[string]webLsEntry {
	t.Helper()
	entries := map[string]webLsEntry{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		// mode uid gid size state date time path (which may hold spaces)
		f := strings.Fields(line)
		if len(f) < 8 {
			t.Fatalf("fs ls line %q", line)
		}
		entries[strings.Join(f[7:], " ")] = webLsEntry{mode: f[0], owner: f[1] + ":" + f[2], size: f[3], state: f[4]}
	}
	return entries
}

// webHumanBytes formats a byte count as the web UI and the CLI do.
func webHumanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(1024), 0
	for m := n / 1024; m >= 1024; m /= 1024 {
		div *= 1024
		exp++
	}
	return fmt.Sprintf("%.2f%cB", float64(n)/float64(div), "KMGTPE"[exp])
}

// webRandom is n random bytes.
func webRandom(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
