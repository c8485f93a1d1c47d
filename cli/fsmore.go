package cli

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os/user"
	"strconv"
	"strings"
	"sync"

	"github.com/alluxio-go/alluxio/meta"
)

const fsMoreUsage = `  count PATH                     files, directories and bytes under PATH
  chmod [-R] MODE PATH           change the mode (octal, e.g. 755)
  chown [-R] OWNER[:GROUP] PATH  change the owner (and group): names or numeric ids
  chgrp [-R] GROUP PATH          change the group
  test -d|-e|-f|-s|-z PATH       exit 0 if PATH is a directory|exists|is a file|is non-empty|is empty
  getCapacityBytes               the workers' total cache capacity
  getUsedBytes                   the workers' used cache
  checkConsistency [-r] PATH     list entries that differ from the under-store (-r: repair)
  distributedLoad [--thread N] PATH
                                 load a tree into the cache, N files at a time
`

// errTestFalse makes `alluxio fs test` exit 1 without a message.
var errTestFalse = &exitError{code: 1}

func (f *fsCmd) count(args []string) error {
	paths, err := parse("count", args, noFlags, 1)
	if err != nil {
		return err
	}
	fi, err := f.c.GetStatus(f.ctx, paths[0])
	if err != nil {
		return fmt.Errorf("count %s: %w", paths[0], err)
	}
	files, dirs, bytes := int64(1), int64(0), fi.Size
	if fi.IsDir {
		files, dirs, bytes = 0, 1, 0
		err = f.walkTree(fi.Path, func(e meta.FileInfo) error {
			if e.IsDir {
				dirs++
			} else {
				files++
				bytes += e.Size
			}
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("count %s: %w", paths[0], err)
	}
	fmt.Fprintf(f.env.Stdout, "%-16s%-16s%-16s\n", "File Count", "Folder Count", "Folder Size")
	fmt.Fprintf(f.env.Stdout, "%-16d%-16d%-16d\n", files, dirs, bytes)
	return nil
}

// setAttrTree applies o to path, and with recursive to everything below
// (symbolic links left alone).
func (f *fsCmd) setAttrTree(op, path string, recursive bool, o meta.SetAttrOptions) error {
	fi, err := f.c.SetAttr(f.ctx, path, o)
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, path, err)
	}
	if !recursive || !fi.IsDir {
		return nil
	}
	return f.walkTree(fi.Path, func(e meta.FileInfo) error {
		if e.IsSymlink {
			return nil
		}
		if _, err := f.c.SetAttr(f.ctx, e.Path, o); err != nil {
			return fmt.Errorf("%s %s: %w", op, e.Path, err)
		}
		return nil
	})
}

func recursiveFlag(recursive *bool) func(*flag.FlagSet) {
	return func(fl *flag.FlagSet) { fl.BoolVar(recursive, "R", false, "recursive") }
}

func (f *fsCmd) chmod(args []string) error {
	var recursive bool
	ops, err := parse("chmod", args, recursiveFlag(&recursive), 2)
	if err != nil {
		return err
	}
	mode, err := strconv.ParseUint(ops[0], 8, 32)
	if err != nil || mode > 0o7777 {
		return usageError("alluxio fs chmod: bad mode %q: want octal bits such as 755", ops[0])
	}
	m := uint32(mode)
	if err := f.setAttrTree("chmod", ops[1], recursive, meta.SetAttrOptions{Mode: &m}); err != nil {
		return err
	}
	fmt.Fprintf(f.env.Stdout, "Changed permission of %s to %04o\n", ops[1], m)
	return nil
}

// lookupID turns a user or group name, or a number, into an id.
func lookupID(name string, group bool) (uint32, error) {
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		return uint32(n), nil
	}
	var id string
	if group {
		g, err := user.LookupGroup(name)
		if err != nil {
			return 0, fmt.Errorf("no group %q", name)
		}
		id = g.Gid
	} else {
		u, err := user.Lookup(name)
		if err != nil {
			return 0, fmt.Errorf("no user %q", name)
		}
		id = u.Uid
	}
	n, err := strconv.ParseUint(id, 10, 32)
	return uint32(n), err
}

func (f *fsCmd) chown(args []string) error {
	var recursive bool
	ops, err := parse("chown", args, recursiveFlag(&recursive), 2)
	if err != nil {
		return err
	}
	owner, group, hasGroup := strings.Cut(ops[0], ":")
	var o meta.SetAttrOptions
	uid, err := lookupID(owner, false)
	if err != nil {
		return usageError("alluxio fs chown: %v", err)
	}
	o.UID = &uid
	if hasGroup {
		gid, err := lookupID(group, true)
		if err != nil {
			return usageError("alluxio fs chown: %v", err)
		}
		o.GID = &gid
	}
	if err := f.setAttrTree("chown", ops[1], recursive, o); err != nil {
		return err
	}
	fmt.Fprintf(f.env.Stdout, "Changed owner of %s to %s\n", ops[1], ops[0])
	return nil
}

func (f *fsCmd) chgrp(args []string) error {
	var recursive bool
	ops, err := parse("chgrp", args, recursiveFlag(&recursive), 2)
	if err != nil {
		return err
	}
	gid, err := lookupID(ops[0], true)
	if err != nil {
		return usageError("alluxio fs chgrp: %v", err)
	}
	if err := f.setAttrTree("chgrp", ops[1], recursive, meta.SetAttrOptions{GID: &gid}); err != nil {
		return err
	}
	fmt.Fprintf(f.env.Stdout, "Changed group of %s to %s\n", ops[1], ops[0])
	return nil
}

func (f *fsCmd) test(args []string) error {
	var d, e, file, s, z bool
	paths, err := parse("test", args, func(fl *flag.FlagSet) {
		fl.BoolVar(&d, "d", false, "is a directory")
		fl.BoolVar(&e, "e", false, "exists")
		fl.BoolVar(&file, "f", false, "is a file")
		fl.BoolVar(&s, "s", false, "is a non-empty file or directory")
		fl.BoolVar(&z, "z", false, "is an empty file")
	}, 1)
	if err != nil {
		return err
	}
	n := 0
	for _, b := range []bool{d, e, file, s, z} {
		if b {
			n++
		}
	}
	if n != 1 {
		return usageError("alluxio fs test: give exactly one of -d -e -f -s -z")
	}
	fi, err := f.c.GetStatus(f.ctx, paths[0])
	if errors.Is(err, fs.ErrNotExist) {
		return errTestFalse
	}
	if err != nil {
		return fmt.Errorf("test %s: %w", paths[0], err)
	}
	var ok bool
	switch {
	case d:
		ok = fi.IsDir
	case e:
		ok = true
	case file:
		ok = !fi.IsDir
	case s:
		if fi.IsDir {
			entries, _, err := f.c.ListStatusPage(f.ctx, fi.Path, "", 1)
			if err != nil {
				return fmt.Errorf("test %s: %w", paths[0], err)
			}
			ok = len(entries) > 0
		} else {
			ok = fi.Size > 0
		}
	case z:
		ok = !fi.IsDir && fi.Size == 0
	}
	if !ok {
		return errTestFalse
	}
	return nil
}

func (f *fsCmd) capacityBytes(used bool) error {
	info, err := f.c.Info(f.ctx)
	if err != nil {
		return err
	}
	if used {
		fmt.Fprintf(f.env.Stdout, "Used Bytes: %d\n", info.Used)
	} else {
		fmt.Fprintf(f.env.Stdout, "Capacity Bytes: %d\n", info.Capacity)
	}
	return nil
}

func (f *fsCmd) checkConsistency(args []string) error {
	var repair bool
	paths, err := parse("checkConsistency", args, func(fl *flag.FlagSet) {
		fl.BoolVar(&repair, "r", false, "repair: load the under-store's metadata for what differs")
	}, 1)
	if err != nil {
		return err
	}
	found, err := f.c.CheckConsistency(f.ctx, paths[0], 0)
	if err != nil {
		return fmt.Errorf("checkConsistency %s: %w", paths[0], err)
	}
	if len(found) == 0 {
		fmt.Fprintf(f.env.Stdout, "%s is consistent with the under storage system.\n", paths[0])
		return nil
	}
	fmt.Fprintf(f.env.Stdout, "The following files are inconsistent:\n")
	for _, in := range found {
		fmt.Fprintf(f.env.Stdout, "%s: %s\n", in.Path, in.Reason)
	}
	if !repair {
		return errTestFalse
	}
	for _, in := range found {
		if _, err := f.c.LoadMetadata(f.ctx, in.Path, true); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("checkConsistency -r %s: %w", in.Path, err)
		}
		fmt.Fprintf(f.env.Stdout, "repaired %s\n", in.Path)
	}
	return nil
}

func (f *fsCmd) distributedLoad(args []string) error {
	threads := 8
	paths, err := parse("distributedLoad", args, func(fl *flag.FlagSet) {
		fl.IntVar(&threads, "thread", 8, "files loaded at a time")
	}, 1)
	if err != nil {
		return err
	}
	if threads < 1 {
		return usageError("alluxio fs distributedLoad: --thread must be at least 1")
	}
	var files []meta.FileInfo
	var total int64
	if err := f.walkFiles(paths[0], func(fi meta.FileInfo) error {
		files = append(files, fi)
		total += fi.Size
		return nil
	}); err != nil {
		return fmt.Errorf("distributedLoad %s: %w", paths[0], err)
	}
	bar := newProgress(f.env.Stdout)
	var (
		mu    sync.Mutex
		done  int64
		first error
		wg    sync.WaitGroup
	)
	next := make(chan meta.FileInfo)
	for i := 0; i < threads; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for fi := range next {
				var last int64
				err := f.c.Load(f.ctx, fi, func(n int64) {
					mu.Lock()
					done += n - last
					bar.show(paths[0], done, total)
					mu.Unlock()
					last = n
				})
				if err != nil {
					mu.Lock()
					first = errors.Join(first, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, fi := range files {
		next <- fi
	}
	close(next)
	wg.Wait()
	if first != nil {
		return fmt.Errorf("distributedLoad %s: %w", paths[0], first)
	}
	bar.done(paths[0], total)
	fmt.Fprintf(f.env.Stdout, "%d files loaded into the cache\n", len(files))
	return nil
}
