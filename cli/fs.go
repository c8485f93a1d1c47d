package cli

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"github.com/alluxio-go/alluxio/ufs"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/alluxio-go/alluxio/daemon/client"
	"github.com/alluxio-go/alluxio/meta"
)

const fsUsage = `Usage: alluxio fs COMMAND [ARGS]
  ls [-R] [-h] [--sync|-f] PATH  list a directory (--sync: sync with the under-store first)
  loadMetadata [-R] PATH         sync PATH (-R: its tree) with the under-store now
  cat PATH                       print a file
  head [-c BYTES] PATH           print the first bytes (default 1KB)
  tail [-c BYTES] PATH           print the last bytes (default 1KB)
  mkdir PATH...                  make directories (with parents)
  touch PATH                     create an empty file
  rm [-R] PATH                   remove
  mv SRC DST                     rename
  stat PATH                      describe a path
  du [-s] [-h] PATH              sizes
  checksum PATH                  MD5 of a file
  copyFromLocal SRC DST          copy a local file or directory in
  copyToLocal SRC DST            copy a file or directory out
  mount [--readonly] [--shared] [--option k=v]... PATH URI
  mount                          list mounts
  unmount PATH                   remove a mount
  leader                         print the leading master
` + fsCacheUsage + fsMoreUsage

func fsCommand(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "help" {
		fmt.Fprint(env.Stdout, fsUsage)
		return nil
	}
	c := newClient(env)
	defer c.Close()
	verb, args := args[0], args[1:]
	fs := &fsCmd{env: env, c: c, ctx: ctx}
	switch verb {
	case "ls":
		return fs.ls(args)
	case "cat":
		return fs.cat(args)
	case "head":
		return fs.headTail(args, true)
	case "tail":
		return fs.headTail(args, false)
	case "mkdir":
		return fs.mkdir(args)
	case "touch":
		return fs.touch(args)
	case "rm":
		return fs.rm(args)
	case "mv":
		return fs.mv(args)
	case "stat":
		return fs.stat(args)
	case "du":
		return fs.du(args)
	case "checksum":
		return fs.checksum(args)
	case "copyFromLocal", "put":
		return fs.copyFromLocal(args)
	case "copyToLocal", "get":
		return fs.copyToLocal(args)
	case "mount":
		return fs.mount(args)
	case "unmount":
		return fs.unmount(args)
	case "count":
		return fs.count(args)
	case "chmod":
		return fs.chmod(args)
	case "chown":
		return fs.chown(args)
	case "chgrp":
		return fs.chgrp(args)
	case "test":
		return fs.test(args)
	case "getCapacityBytes":
		return fs.capacityBytes(false)
	case "getUsedBytes":
		return fs.capacityBytes(true)
	case "checkConsistency":
		return fs.checkConsistency(args)
	case "distributedLoad":
		return fs.distributedLoad(args)
	case "loadMetadata":
		return fs.loadMetadata(args)
	case "pin", "unpin":
		return fs.pin(args, verb == "pin")
	case "setTtl":
		return fs.setTTL(args)
	case "unsetTtl":
		return fs.unsetTTL(args)
	case "load":
		return fs.load(args)
	case "free":
		return fs.free(args)
	case "persist":
		return fs.persist(args)
	case "location":
		return fs.location(args)
	case "leader":
		info, err := c.Info(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, info.Leader)
		return nil
	}
	return usageError("alluxio fs: unknown command %q\n%s", verb, fsUsage)
}

type fsCmd struct {
	env *Env
	c   *client.Client
	ctx context.Context
}

// parse parses flags of one subcommand, allowing flags after operands.
func parse(name string, args []string, define func(*flag.FlagSet), nargs int) ([]string, error) {
	fl := flag.NewFlagSet(name, flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	define(fl)
	var operands []string
	for {
		if err := fl.Parse(args); err != nil {
			return nil, usageError("alluxio fs %s: %v", name, err)
		}
		if fl.NArg() == 0 {
			break
		}
		operands = append(operands, fl.Arg(0))
		args = fl.Args()[1:]
	}
	if nargs >= 0 && len(operands) != nargs {
		return nil, usageError("alluxio fs %s: want %d argument(s), got %d", name, nargs, len(operands))
	}
	if nargs < 0 && len(operands) < -nargs {
		return nil, usageError("alluxio fs %s: want at least %d argument(s)", name, -nargs)
	}
	return operands, nil
}

func noFlags(*flag.FlagSet) {}

func permString(fi meta.FileInfo) string {
	var b strings.Builder
	switch {
	case fi.IsDir:
		b.WriteByte('d')
	case fi.IsSymlink:
		b.WriteByte('l')
	default:
		b.WriteByte('-')
	}
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		if fi.Mode&(1<<uint(8-i)) != 0 {
			b.WriteByte(rwx[i])
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

func (f *fsCmd) printEntry(fi meta.FileInfo, human bool) {
	size := fmt.Sprint(fi.Size)
	if human {
		size = humanBytes(fi.Size)
	}
	state := "PERSISTED"
	if !fi.Persisted {
		state = "NOT_PERSISTED"
	}
	if fi.IsDir {
		state = "DIR"
	}
	if !fi.Completed && !fi.IsDir {
		state = "INCOMPLETE"
	}
	fmt.Fprintf(f.env.Stdout, "%s %8d %8d %12s %14s %s %s\n", permString(fi), fi.UID, fi.GID, size, state,
		time.Unix(0, fi.Mtime).Format("01-02-2006 15:04:05:000"), fi.Path)
}

func (f *fsCmd) ls(args []string) error {
	var recursive, human, sync, force bool
	paths, err := parse("ls", args, func(fl *flag.FlagSet) {
		fl.BoolVar(&recursive, "R", false, "recursive")
		fl.BoolVar(&human, "h", false, "human sizes")
		fl.BoolVar(&sync, "sync", false, "sync with the under-store first")
		fl.BoolVar(&force, "f", false, "sync with the under-store first (Alluxio's -f)")
	}, -1)
	if err != nil {
		return err
	}
	for _, p := range paths {
		if sync || force {
			if _, err := f.c.LoadMetadata(f.ctx, p, recursive); err != nil {
				return fmt.Errorf("ls %s: sync with the under-store: %w", p, err)
			}
		}
		if err := f.lsOne(p, recursive, human); err != nil {
			return err
		}
	}
	return nil
}

// lsOne prints the entries of p (or p itself, a file) in name order, each
// page as it arrives from the master, and with recursive each directory's
// tree after its entry.
func (f *fsCmd) lsOne(p string, recursive, human bool) error {
	var below error // from a directory below p, already naming its path
	err := f.c.ListStatusPages(f.ctx, p, func(page []meta.FileInfo) error {
		for _, e := range page {
			f.printEntry(e, human)
			if recursive && e.IsDir && e.Path != p {
				if below = f.lsOne(e.Path, recursive, human); below != nil {
					return below
				}
			}
		}
		return nil
	})
	if below != nil {
		return below
	}
	if err != nil {
		return fmt.Errorf("ls %s: %w", p, err)
	}
	return nil
}

func (f *fsCmd) cat(args []string) error {
	paths, err := parse("cat", args, noFlags, -1)
	if err != nil {
		return err
	}
	for _, p := range paths {
		r, err := f.c.OpenFile(f.ctx, p)
		if err != nil {
			return fmt.Errorf("cat %s: %w", p, err)
		}
		_, err = io.Copy(f.env.Stdout, io.NewSectionReader(readerAt{f.ctx, r}, 0, r.Size()))
		r.Close()
		if err != nil {
			return fmt.Errorf("cat %s: %w", p, err)
		}
	}
	return nil
}

// readerAt adapts a FileReader to io.ReaderAt.
type readerAt struct {
	ctx context.Context
	r   *client.FileReader
}

func (ra readerAt) ReadAt(p []byte, off int64) (int, error) { return ra.r.ReadAt(ra.ctx, p, off) }

func (f *fsCmd) headTail(args []string, head bool) error {
	var n int64
	name := map[bool]string{true: "head", false: "tail"}[head]
	paths, err := parse(name, args, func(fl *flag.FlagSet) { fl.Int64Var(&n, "c", 1024, "bytes") }, 1)
	if err != nil {
		return err
	}
	r, err := f.c.OpenFile(f.ctx, paths[0])
	if err != nil {
		return fmt.Errorf("%s %s: %w", name, paths[0], err)
	}
	defer r.Close()
	off := int64(0)
	if !head {
		off = max(0, r.Size()-n)
	}
	_, err = io.Copy(f.env.Stdout, io.NewSectionReader(readerAt{f.ctx, r}, off, min(n, r.Size()-off)))
	return err
}

func (f *fsCmd) mkdir(args []string) error {
	paths, err := parse("mkdir", args, noFlags, -1)
	if err != nil {
		return err
	}
	for _, p := range paths {
		if _, err := f.c.CreateDirectory(f.ctx, p, meta.MkdirOptions{Mode: 0o755, Recursive: true}); err != nil {
			return fmt.Errorf("mkdir %s: %w", p, err)
		}
		fmt.Fprintf(f.env.Stdout, "Successfully created directory %s\n", p)
	}
	return nil
}

func (f *fsCmd) touch(args []string) error {
	paths, err := parse("touch", args, noFlags, 1)
	if err != nil {
		return err
	}
	w, err := f.c.CreateFile(f.ctx, paths[0], client.CreateOptions{Mode: 0o644, Exclusive: true})
	if err != nil {
		return fmt.Errorf("touch %s: %w", paths[0], err)
	}
	if err := w.Close(); err != nil {
		return err
	}
	fmt.Fprintf(f.env.Stdout, "%s has been created\n", paths[0])
	return nil
}

func (f *fsCmd) rm(args []string) error {
	var recursive bool
	paths, err := parse("rm", args, func(fl *flag.FlagSet) { fl.BoolVar(&recursive, "R", false, "recursive") }, -1)
	if err != nil {
		return err
	}
	for _, p := range paths {
		if err := f.c.Delete(f.ctx, p, recursive); err != nil {
			return fmt.Errorf("rm %s: %w", p, err)
		}
		fmt.Fprintf(f.env.Stdout, "%s has been removed\n", p)
	}
	return nil
}

func (f *fsCmd) mv(args []string) error {
	paths, err := parse("mv", args, noFlags, 2)
	if err != nil {
		return err
	}
	if err := f.c.Rename(f.ctx, paths[0], paths[1], false); err != nil {
		return fmt.Errorf("mv %s %s: %w", paths[0], paths[1], err)
	}
	fmt.Fprintf(f.env.Stdout, "Renamed %s to %s\n", paths[0], paths[1])
	return nil
}

func (f *fsCmd) stat(args []string) error {
	paths, err := parse("stat", args, noFlags, 1)
	if err != nil {
		return err
	}
	fi, err := f.c.GetStatus(f.ctx, paths[0])
	if err != nil {
		return fmt.Errorf("stat %s: %w", paths[0], err)
	}
	w := f.env.Stdout
	kind := "file"
	if fi.IsDir {
		kind = "directory"
	}
	fmt.Fprintf(w, "%s is a %s path.\n", fi.Path, kind)
	ttl := int64(-1) // Alluxio prints -1 for no TTL
	if fi.TTL > 0 {
		ttl = fi.TTL
	}
	fmt.Fprintf(w, "FileInfo{id=%d, name=%s, path=%s, length=%d, folder=%t, completed=%t, persisted=%t, pinned=%t, ttl=%d, ttlAction=%s, mode=%04o, owner=%d, group=%d, creationTimeMs=%d, lastModificationTimeMs=%d, fingerprint=%s, mountId=%d, ufsPath=%s, location=%s}\n",
		fi.ID, fi.Name, fi.Path, fi.Size, fi.IsDir, fi.Completed, fi.Persisted, fi.Pinned, ttl, fi.TTLAction, fi.Mode, fi.UID, fi.GID,
		fi.CreationTime/int64(time.Millisecond), fi.Mtime/int64(time.Millisecond), fi.Fingerprint, fi.MountID, fi.UfsPath, fi.Location)
	return nil
}

func (f *fsCmd) du(args []string) error {
	var summary, human bool
	paths, err := parse("du", args, func(fl *flag.FlagSet) {
		fl.BoolVar(&summary, "s", false, "summary")
		fl.BoolVar(&human, "h", false, "human sizes")
	}, 1)
	if err != nil {
		return err
	}
	size := func(n int64) string {
		if human {
			return humanBytes(n)
		}
		return fmt.Sprint(n)
	}
	var total int64
	walk := func(p string) error {
		return f.walkTree(p, func(e meta.FileInfo) error {
			if e.IsDir {
				return nil
			}
			total += e.Size
			if !summary {
				fmt.Fprintf(f.env.Stdout, "%-16s %s\n", size(e.Size), e.Path)
			}
			return nil
		})
	}
	if err := walk(paths[0]); err != nil {
		return fmt.Errorf("du %s: %w", paths[0], err)
	}
	fmt.Fprintf(f.env.Stdout, "%-16s %s\n", size(total), paths[0])
	return nil
}

func (f *fsCmd) checksum(args []string) error {
	paths, err := parse("checksum", args, noFlags, 1)
	if err != nil {
		return err
	}
	r, err := f.c.OpenFile(f.ctx, paths[0])
	if err != nil {
		return fmt.Errorf("checksum %s: %w", paths[0], err)
	}
	defer r.Close()
	h := md5.New()
	if _, err := io.Copy(h, io.NewSectionReader(readerAt{f.ctx, r}, 0, r.Size())); err != nil {
		return fmt.Errorf("checksum %s: %w", paths[0], err)
	}
	fmt.Fprintf(f.env.Stdout, "md5sum: %s\n", hex.EncodeToString(h.Sum(nil)))
	return nil
}

func (f *fsCmd) copyFromLocal(args []string) error {
	paths, err := parse("copyFromLocal", args, noFlags, 2)
	if err != nil {
		return err
	}
	src, dst := paths[0], paths[1]
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if fi, err := f.c.GetStatus(f.ctx, dst); err == nil && fi.IsDir {
		dst = path.Join(dst, filepath.Base(src))
	}
	if !st.IsDir() {
		return f.putFile(src, dst, st.Mode().Perm())
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := path.Join(dst, filepath.ToSlash(rel))
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			_, err := f.c.CreateDirectory(f.ctx, target, meta.MkdirOptions{Mode: uint32(info.Mode().Perm()), Recursive: true, AllowExists: true})
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		return f.putFile(p, target, info.Mode().Perm())
	})
}

func (f *fsCmd) putFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	w, err := f.c.CreateFile(f.ctx, dst, client.CreateOptions{Mode: uint32(perm), UID: uint32(os.Getuid()), GID: uint32(os.Getgid())})
	if err != nil {
		return fmt.Errorf("copyFromLocal %s: %w", dst, err)
	}
	buf := make([]byte, 1<<20)
	if _, err := io.CopyBuffer(w, in, buf); err != nil {
		w.Close()
		return fmt.Errorf("copyFromLocal %s: %w", dst, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("copyFromLocal %s: %w", dst, err)
	}
	fmt.Fprintf(f.env.Stdout, "Copied file://%s to %s\n", src, dst)
	return nil
}

func (f *fsCmd) copyToLocal(args []string) error {
	paths, err := parse("copyToLocal", args, noFlags, 2)
	if err != nil {
		return err
	}
	src, dst := paths[0], paths[1]
	fi, err := f.c.GetStatus(f.ctx, src)
	if err != nil {
		return fmt.Errorf("copyToLocal %s: %w", src, err)
	}
	if st, err := os.Stat(dst); err == nil && st.IsDir() {
		dst = filepath.Join(dst, fi.Name)
	}
	return f.getTree(fi, dst)
}

func (f *fsCmd) getTree(fi meta.FileInfo, dst string) error {
	if !fi.IsDir {
		return f.getFile(fi.Path, dst, fs.FileMode(fi.Mode&0o777))
	}
	if err := os.MkdirAll(dst, fs.FileMode(fi.Mode&0o777)|0o700); err != nil {
		return err
	}
	return f.c.ListStatusPages(f.ctx, fi.Path, func(page []meta.FileInfo) error {
		for _, e := range page {
			if err := f.getTree(e, filepath.Join(dst, e.Name)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (f *fsCmd) getFile(src, dst string, perm fs.FileMode) error {
	r, err := f.c.OpenFile(f.ctx, src)
	if err != nil {
		return fmt.Errorf("copyToLocal %s: %w", src, err)
	}
	defer r.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = io.CopyBuffer(out, io.NewSectionReader(readerAt{f.ctx, r}, 0, r.Size()), make([]byte, 1<<20))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copyToLocal %s: %w", src, err)
	}
	fmt.Fprintf(f.env.Stdout, "Copied %s to file://%s\n", src, dst)
	return nil
}

func (f *fsCmd) mount(args []string) error {
	if len(args) == 0 {
		mounts, err := f.c.Mounts(f.ctx)
		if err != nil {
			return err
		}
		for _, m := range mounts {
			var opts []string
			if m.ReadOnly {
				opts = append(opts, "readonly")
			}
			if m.Shared {
				opts = append(opts, "shared")
			}
			keys := make([]string, 0, len(m.Options))
			for k := range m.Options {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				opts = append(opts, k+"="+m.Options[k])
			}
			fmt.Fprintf(f.env.Stdout, "%s  on  %s  (%s)\n", m.UfsURI, m.AlluxioPath, strings.Join(opts, ", "))
		}
		return nil
	}
	var ro, shared bool
	options := map[string]string{}
	paths, err := parse("mount", args, func(fl *flag.FlagSet) {
		fl.BoolVar(&ro, "readonly", false, "read-only")
		fl.BoolVar(&shared, "shared", false, "shared")
		fl.Func("option", "k=v", func(s string) error {
			k, v, ok := strings.Cut(s, "=")
			if !ok {
				return errors.New("--option wants key=value")
			}
			options[k] = v
			return nil
		})
	}, 2)
	if err != nil {
		return err
	}
	if err := f.c.Mount(f.ctx, paths[0], paths[1], meta.MountOptions{ReadOnly: ro, Shared: shared, Options: options}); err != nil {
		return fmt.Errorf("mount %s at %s: %w", ufs.Redact(paths[1]), paths[0], err)
	}
	fmt.Fprintf(f.env.Stdout, "Mounted %s at %s\n", ufs.Redact(paths[1]), paths[0])
	return nil
}

func (f *fsCmd) unmount(args []string) error {
	paths, err := parse("unmount", args, noFlags, 1)
	if err != nil {
		return err
	}
	if err := f.c.Unmount(f.ctx, paths[0]); err != nil {
		return fmt.Errorf("unmount %s: %w", paths[0], err)
	}
	fmt.Fprintf(f.env.Stdout, "Unmounted %s\n", paths[0])
	return nil
}
