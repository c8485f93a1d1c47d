package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/alluxio-go/alluxio/meta"
)

const fsCacheUsage = `  pin PATH                       keep a file's (or a tree's) cached data from eviction
  unpin PATH                     undo pin
  setTtl [--action DELETE|FREE] PATH TTL
                                 delete or free PATH TTL after its creation (ms, or 10s, 5m, 2h, 1d)
  unsetTtl PATH                  remove the TTL
  load PATH                      read a file or tree into the workers' caches
  free PATH                      drop a file's or tree's cached data from every worker
  persist PATH...                write files held only in a worker's cache to the under-store
  location PATH                  which worker each block of a file lives on
`

// walkFiles calls fn for the file at p, or for every file under directory p
// (symbolic links left out).
func (f *fsCmd) walkFiles(p string, fn func(meta.FileInfo) error) error {
	fi, err := f.c.GetStatus(f.ctx, p)
	if err != nil {
		return err
	}
	if !fi.IsDir {
		return fn(fi)
	}
	return f.walkTree(fi.Path, func(e meta.FileInfo) error {
		if e.IsDir || e.IsSymlink {
			return nil
		}
		return fn(e)
	})
}

// walkTree calls fn for every entry listed under p, depth first in name
// order, each directory before what is below it; a file lists as itself.
// Directories are listed page by page, so a walk holds one page per level
// whatever the size of a directory.
func (f *fsCmd) walkTree(p string, fn func(meta.FileInfo) error) error {
	return f.c.ListStatusPages(f.ctx, p, func(page []meta.FileInfo) error {
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
			if e.IsDir && e.Path != p {
				if err := f.walkTree(e.Path, fn); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func (f *fsCmd) pin(args []string, pinned bool) error {
	name := map[bool]string{true: "pin", false: "unpin"}[pinned]
	paths, err := parse(name, args, noFlags, 1)
	if err != nil {
		return err
	}
	fi, err := f.c.SetAttr(f.ctx, paths[0], meta.SetAttrOptions{Pinned: &pinned, Recursive: true})
	if err != nil {
		return fmt.Errorf("%s %s: %w", name, paths[0], err)
	}
	err = f.walkFiles(fi.Path, func(fi meta.FileInfo) error { return f.c.SetPinned(f.ctx, fi.ID, pinned) })
	if err != nil {
		return fmt.Errorf("%s %s: %w", name, paths[0], err)
	}
	if pinned {
		fmt.Fprintf(f.env.Stdout, "File '%s' was successfully pinned.\n", fi.Path)
	} else {
		fmt.Fprintf(f.env.Stdout, "File '%s' was successfully unpinned.\n", fi.Path)
	}
	return nil
}

// parseTTL reads a TTL as Alluxio writes it: milliseconds, or a number with
// a unit (ms, s, sec, m, min, h, hour, d, day).
func parseTTL(s string) (int64, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	units := []struct {
		suffix string
		ms     int64
	}{{"ms", 1}, {"sec", 1000}, {"s", 1000}, {"min", 60000}, {"m", 60000},
		{"hour", 3600000}, {"h", 3600000}, {"day", 86400000}, {"d", 86400000}}
	mult := int64(1)
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = num, u.ms
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad TTL %q: want milliseconds or a number with a unit (10s, 5m, 2h, 1d)", s)
	}
	return n * mult, nil
}

func (f *fsCmd) setTTL(args []string) error {
	action := "DELETE"
	ops, err := parse("setTtl", args, func(fl *flag.FlagSet) {
		fl.StringVar(&action, "action", "DELETE", "DELETE or FREE")
	}, 2)
	if err != nil {
		return err
	}
	ttl, err := parseTTL(ops[1])
	if err != nil {
		return usageError("alluxio fs setTtl: %v", err)
	}
	action = strings.ToUpper(action)
	fi, err := f.c.SetAttr(f.ctx, ops[0], meta.SetAttrOptions{TTL: &ttl, TTLAction: &action})
	if err != nil {
		return fmt.Errorf("setTtl %s: %w", ops[0], err)
	}
	fmt.Fprintf(f.env.Stdout, "TTL of path '%s' was successfully set to %d milliseconds, with expiry action set to %s\n",
		fi.Path, ttl, action)
	return nil
}

func (f *fsCmd) unsetTTL(args []string) error {
	paths, err := parse("unsetTtl", args, noFlags, 1)
	if err != nil {
		return err
	}
	zero := int64(0)
	fi, err := f.c.SetAttr(f.ctx, paths[0], meta.SetAttrOptions{TTL: &zero})
	if err != nil {
		return fmt.Errorf("unsetTtl %s: %w", paths[0], err)
	}
	fmt.Fprintf(f.env.Stdout, "TTL of path '%s' was successfully removed.\n", fi.Path)
	return nil
}

func (f *fsCmd) load(args []string) error {
	paths, err := parse("load", args, noFlags, 1)
	if err != nil {
		return err
	}
	bar := newProgress(f.env.Stdout)
	err = f.walkFiles(paths[0], func(fi meta.FileInfo) error {
		if err := f.c.Load(f.ctx, fi, func(done int64) { bar.show(fi.Path, done, fi.Size) }); err != nil {
			return err
		}
		bar.done(fi.Path, fi.Size)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load %s: %w", paths[0], err)
	}
	fmt.Fprintf(f.env.Stdout, "%s loaded\n", paths[0])
	return nil
}

func (f *fsCmd) free(args []string) error {
	paths, err := parse("free", args, noFlags, 1)
	if err != nil {
		return err
	}
	err = f.walkFiles(paths[0], func(fi meta.FileInfo) error { return f.c.Free(f.ctx, fi) })
	if err != nil {
		return fmt.Errorf("free %s: %w", paths[0], err)
	}
	fmt.Fprintf(f.env.Stdout, "%s was successfully freed from Alluxio space.\n", paths[0])
	return nil
}

func (f *fsCmd) persist(args []string) error {
	paths, err := parse("persist", args, noFlags, -1)
	if err != nil {
		return err
	}
	for _, p := range paths {
		err := f.walkFiles(p, func(fi meta.FileInfo) error {
			if fi.Persisted {
				return nil
			}
			if err := f.c.Persist(f.ctx, fi); err != nil {
				return err
			}
			fmt.Fprintf(f.env.Stdout, "persisted file %s with size %d\n", fi.Path, fi.Size)
			return nil
		})
		if err != nil {
			return fmt.Errorf("persist %s: %w", p, err)
		}
	}
	return nil
}

func (f *fsCmd) location(args []string) error {
	paths, err := parse("location", args, noFlags, 1)
	if err != nil {
		return err
	}
	fi, err := f.c.GetStatus(f.ctx, paths[0])
	if err != nil {
		return fmt.Errorf("location %s: %w", paths[0], err)
	}
	if fi.IsDir {
		return fmt.Errorf("location %s: is a directory", paths[0])
	}
	fmt.Fprintf(f.env.Stdout, "%s with file id %d is on workers:\n", fi.Path, fi.ID)
	for _, b := range f.c.Locations(f.ctx, fi) {
		fmt.Fprintf(f.env.Stdout, "  block %d [%d, %d): %s\n", b.Block, b.Offset, b.Offset+b.Length, b.Worker)
	}
	return nil
}

// progress draws a progress bar on a terminal; elsewhere it prints one
// line per finished file.
type progress struct {
	w    io.Writer
	tty  bool
	last time.Time
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		p.tty = err == nil
	}
	return p
}

func (p *progress) show(name string, done, total int64) {
	if !p.tty || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	const width = 30
	frac := 1.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	n := int(frac * width)
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%% %s/%s %s", strings.Repeat("=", n), strings.Repeat(" ", width-n),
		frac*100, humanBytes(done), humanBytes(total), name)
}

func (p *progress) done(name string, total int64) {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, "loaded %s (%s)\n", name, humanBytes(total))
}

func (f *fsCmd) loadMetadata(args []string) error {
	var recursive, force bool
	paths, err := parse("loadMetadata", args, func(fl *flag.FlagSet) {
		fl.BoolVar(&recursive, "R", false, "recursive")
		fl.BoolVar(&force, "F", false, "accepted for Alluxio compatibility: loads always compare with the under-store")
	}, 1)
	if err != nil {
		return err
	}
	st, err := f.c.LoadMetadata(f.ctx, paths[0], recursive)
	if err != nil {
		return fmt.Errorf("loadMetadata %s: %w", paths[0], err)
	}
	fmt.Fprintf(f.env.Stdout, "Synced %s with the under-store: %d directories, %d files\n", paths[0], st.Dirs, st.Files)
	return nil
}
