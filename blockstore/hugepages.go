package blockstore

import (
	"bufio"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// hintHugePages logs, at info level, when d is on a tmpfs mounted without
// transparent huge pages for written files (see hugeOn). Caching a page
// there allocates the tmpfs's memory 4 KiB at a time, which costs more
// CPU than copying the bytes: on a cold read from S3 it was most of the
// worker's time spent writing pages, and writing 1 MiB pages into a tmpfs
// mounted with huge=within_size took about a sixth of the CPU. The mount
// is the operator's, so this is a hint, not a check.
func (d *tierDir) hintHugePages(log *slog.Logger) {
	path, err := filepath.EvalSymlinks(d.path)
	if err != nil {
		return
	}
	mi, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer mi.Close()
	if fstype, opts, ok := mountOf(mi, path); ok && fstype == "tmpfs" && !hugeOn(opts) {
		log.Info("tier dir is on a tmpfs without huge pages; mounting it with huge=within_size makes caching pages several times cheaper in CPU",
			"tier", d.alias, "dir", d.path)
	}
}

// mountOf returns the file system type and super-block options of the
// mount in mountinfo (the format of /proc/self/mountinfo) that holds path,
// an absolute path without symbolic links: the last mount whose mount
// point is path or a parent of it.
func mountOf(mountinfo io.Reader, path string) (fstype, opts string, ok bool) {
	best := -1
	sc := bufio.NewScanner(mountinfo)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - type source superoptions
		pre, post, found := strings.Cut(sc.Text(), " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !found || len(f) < 5 || len(g) < 3 {
			continue
		}
		mp := unescapeMount(f[4])
		if mp != path && mp != "/" && !strings.HasPrefix(path, mp+"/") {
			continue
		}
		if len(mp) >= best { // a later mount over the same point hides the earlier one
			best, fstype, opts, ok = len(mp), g[0], g[2], true
		}
	}
	return fstype, opts, ok
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space, etc.).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// hugeOn reports whether tmpfs mount options give written files
// transparent huge pages: huge=always or huge=within_size (huge=advise
// only gives them to memory mappings that ask with madvise).
func hugeOn(opts string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if v, ok := strings.CutPrefix(o, "huge="); ok {
			return v == "always" || v == "within_size"
		}
	}
	return false
}
