package hdfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"os/user"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"

	"github.com/alluxio-go/alluxio/ufs"
)

// Scheme is the URI scheme the store registers under.
const Scheme = "hdfs"

const (
	// tmpPrefix starts the name of a file that Create is still writing.
	// Such names are hidden from List and Stat and cannot be created by
	// callers.
	tmpPrefix = ".alluxio.tmp."
	// listPage is how many entries the store asks colinmarc/hdfs for at a
	// time; the namenode pages by dfs.ls.limit.
	listPage = 1000
	// addrRepeats is how often the namenode list is given to
	// colinmarc/hdfs (see client).
	addrRepeats = 3
	// maxPiece caps one read from colinmarc/hdfs below a checksum chunk
	// (512 bytes by default), see reader.
	maxPiece = 511
)

func init() {
	ufs.Register(Scheme, open)
}

// Store is an under-store over a directory of HDFS. It is safe for
// concurrent use.
type Store struct {
	cfg *config

	mu      sync.Mutex // guards cur, clients, closed and the clients' fields
	cur     *nnClient  // the client new calls use; nil until the first
	clients map[*nnClient]struct{}
	closed  bool

	owners sync.Map // "u:" or "g:" + name -> uint32 local id (0: unknown)
}

var (
	_ ufs.UFS       = (*Store)(nil)
	_ ufs.Chmoder   = (*Store)(nil)
	_ ufs.Chowner   = (*Store)(nil)
	_ ufs.Chtimeser = (*Store)(nil)
	_ ufs.Truncater = (*Store)(nil)
)

// open is the registry factory for hdfs:// URIs. It reads the options and
// the Hadoop files but does not connect: the first call does.
func open(u *url.URL, options map[string]string) (ufs.UFS, error) {
	c, err := parseConfig(u, options)
	if err != nil {
		return nil, err
	}
	return &Store{cfg: c}, nil
}

// nnClient is one colinmarc/hdfs client: a connection to the active
// namenode, and the lease holder name of the files it writes. A client
// whose namenodes all failed is retired: new calls get a new client at
// once (colinmarc/hdfs would wait 5 seconds before it tries a failed
// address again), and the retired one closes when its last writer ends.
type nnClient struct {
	cl      *hdfs.Client
	writers int // open writers (they must finish with their lease holder)
	retired bool
	closed  bool
}

// shut closes c once; s.mu is held.
func (s *Store) shut(c *nnClient) {
	if !c.closed {
		c.closed = true
		delete(s.clients, c)
		c.cl.Close()
	}
}

// client returns the current client, connecting a new one on first use
// and after the last was retired or failed to connect.
func (s *Store) client() (*nnClient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	if s.cur != nil {
		return s.cur, nil
	}
	opts := hdfs.ClientOptionsFromConf(s.cfg.hadoop)
	// Only the namenodes of the URI's cluster: the Hadoop files may
	// name others (fs.defaultFS, every nameservice of a federation),
	// which colinmarc/hdfs would try first.
	opts.Addresses = nil
	// colinmarc/hdfs skips an address for 5 seconds after a failure on
	// it; listed more than once, a namenode is tried again at once after
	// a dropped connection, and a failover round goes on to the next.
	for range addrRepeats {
		opts.Addresses = append(opts.Addresses, s.cfg.addrs...)
	}
	opts.User = s.cfg.user
	opts.KerberosClient = nil
	opts.UseDatanodeHostname = s.cfg.useHostname
	opts.NamenodeDialFunc = s.dialNamenode
	opts.DatanodeDialFunc = s.dialDatanode
	cl, err := hdfs.NewClient(opts)
	if err != nil {
		return nil, err
	}
	// colinmarc/hdfs caches the server defaults in the client without a
	// lock on first use; fetching them here, before the client is shared,
	// makes every later use a read.
	if _, err := cl.ServerDefaults(); err != nil {
		cl.Close()
		return nil, err
	}
	s.cur = &nnClient{cl: cl}
	if s.clients == nil {
		s.clients = map[*nnClient]struct{}{}
	}
	s.clients[s.cur] = struct{}{}
	return s.cur, nil
}

// retire takes c out of use after its namenodes all failed.
func (s *Store) retire(c *nnClient) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == c {
		s.cur = nil
	}
	c.retired = true
	if c.writers == 0 {
		s.shut(c)
	}
}

// hold and release count the writers of a client.
func (s *Store) hold(c *nnClient) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.writers++
}

func (s *Store) release(c *nnClient) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.writers--
	if c.writers == 0 && c.retired {
		s.shut(c)
	}
}

// errClosed is the error of a call on a closed store.
var errClosed = fmt.Errorf("the under-store is closed: %w", syscall.EBADF)

// Close disconnects from the namenodes; writers still open fail. Later
// calls fail with EBADF.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed, s.cur = true, nil
	for c := range s.clients {
		s.shut(c)
	}
	return nil
}

// uri names the store-relative path p for errors and logs.
func (s *Store) uri(p string) string {
	if p == "" {
		return s.cfg.name
	}
	return strings.TrimSuffix(s.cfg.name, "/") + "/" + p
}

// abs is the HDFS path of the clean store-relative path c.
func (s *Store) abs(c string) string { return path.Join(s.cfg.root, c) }

// lookup and create tell begin how to treat a hidden name.
const (
	lookup = false
	create = true
)

// begin checks the store is open and ctx alive, and cleans p. A path
// that climbs above the root, or that names HDFS's /.reserved tree from
// the namespace root, is EINVAL; one with a temporary file's name is
// missing (ENOENT) to lookups and invalid (EINVAL) to creation.
func (s *Store) begin(ctx context.Context, op, p string, creating bool) (string, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return "", s.pathErr(op, p, errClosed)
	}
	if err := contextErr(ctx); err != nil {
		return "", s.pathErr(op, p, err)
	}
	c, err := ufs.Clean(p)
	if err != nil {
		return "", s.pathErr(op, p, fmt.Errorf("path climbs above the store root: %w", syscall.EINVAL))
	}
	if s.cfg.root == "/" && (c == ".reserved" || strings.HasPrefix(c, ".reserved/")) {
		return "", s.pathErr(op, c, fmt.Errorf("HDFS's /.reserved paths reach outside the mount: %w", syscall.EINVAL))
	}
	for _, el := range strings.Split(c, "/") {
		if strings.HasPrefix(el, tmpPrefix) {
			if creating {
				return "", s.pathErr(op, c, fmt.Errorf("names starting with %s are the store's own: %w", tmpPrefix, syscall.EINVAL))
			}
			return "", s.pathErr(op, c, syscall.ENOENT)
		}
	}
	return c, nil
}

// statusOf is the part of colinmarc/hdfs's HdfsFileStatusProto the store
// reads beyond os.FileInfo.
type statusOf interface {
	GetFileId() uint64
	GetSymlink() []byte
	GetModificationTime() uint64
}

// info converts an entry colinmarc/hdfs describes.
func (s *Store) info(name string, fi os.FileInfo) ufs.FileInfo {
	raw := uint32(fi.Mode()) & 0o1777 // HDFS's permission, sticky bit included
	mode := fs.FileMode(raw & 0o777)
	if raw&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	out := ufs.FileInfo{Name: name, ModTime: fi.ModTime()}
	st, _ := fi.Sys().(statusOf)
	switch {
	case fi.IsDir():
		out.Mode = mode | fs.ModeDir
	case st != nil && len(st.GetSymlink()) > 0:
		out.Mode = mode | fs.ModeSymlink
	default:
		out.Mode = mode
		out.Size = fi.Size()
		if st != nil {
			// A new file (Create writes one and renames it over the old)
			// has a new inode id; a rewrite in place changes the length or
			// the modification time.
			out.ETag = fmt.Sprintf("%d-%d-%d", st.GetFileId(), st.GetModificationTime(), fi.Size())
		}
	}
	if hf, ok := fi.(*hdfs.FileInfo); ok {
		out.UID = s.localID(hf.Owner(), false)
		out.GID = s.localID(hf.OwnerGroup(), true)
	}
	return out
}

// localID maps an HDFS owner or group name to the local id of that name,
// 0 when this machine does not know it.
func (s *Store) localID(name string, group bool) uint32 {
	key := "u:" + name
	if group {
		key = "g:" + name
	}
	if v, ok := s.owners.Load(key); ok {
		return v.(uint32)
	}
	var id string
	if group {
		if g, err := user.LookupGroup(name); err == nil {
			id = g.Gid
		}
	} else if u, err := user.Lookup(name); err == nil {
		id = u.Uid
	}
	n, err := strconv.ParseUint(id, 10, 32)
	if err != nil {
		n = 0
	}
	s.owners.Store(key, uint32(n))
	return uint32(n)
}

// Stat describes one entry.
func (s *Store) Stat(ctx context.Context, p string) (ufs.FileInfo, error) {
	const op = "stat"
	c, err := s.begin(ctx, op, p, lookup)
	if err != nil {
		return ufs.FileInfo{}, err
	}
	var out ufs.FileInfo
	err = s.do(ctx, op, c, func(cl *hdfs.Client, _ attempt) error {
		fi, err := cl.Stat(s.abs(c))
		if err != nil {
			return err
		}
		out = s.info(path.Base("/"+c), fi)
		return nil
	})
	if err != nil {
		return ufs.FileInfo{}, err
	}
	if c == "" {
		out.Name = ""
	}
	return out, nil
}

// List calls fn for each entry of the directory, a page (dfs.ls.limit
// entries) at a time. After a failure that a retry cures, the listing
// starts over after the last name delivered (HDFS lists in byte order).
func (s *Store) List(ctx context.Context, dir string, fn func(ufs.FileInfo) error) error {
	const op = "list"
	c, err := s.begin(ctx, op, dir, lookup)
	if err != nil {
		return err
	}
	abs := s.abs(c)
	var fr *hdfs.FileReader
	abandoned := false // a call still running after ctx ended owns fr
	defer func() {
		if !abandoned && fr != nil {
			fr.Close()
		}
	}()
	last := ""
	for {
		var batch []os.FileInfo
		done := false
		err := s.do(ctx, op, c, func(cl *hdfs.Client, a attempt) error {
			if fr == nil || a.n > 0 {
				f, err := cl.Open(abs)
				if err != nil {
					return err
				}
				if !f.Stat().IsDir() {
					f.Close()
					return s.pathErr(op, c, syscall.ENOTDIR)
				}
				fr = f
			}
			b, err := fr.Readdir(listPage)
			if err == io.EOF {
				done = true
				return nil
			}
			if err != nil {
				return err
			}
			// Readdir asks for pages until it has listPage entries or the
			// namenode has no more: fewer means the end.
			batch, done = b, len(b) < listPage
			return nil
		})
		if err != nil {
			abandoned = ctx.Err() != nil
			return err
		}
		for _, fi := range batch {
			name := fi.Name()
			if last != "" && nameOrder(name, last) <= 0 || strings.HasPrefix(name, tmpPrefix) {
				continue
			}
			last = name
			if err := fn(s.info(name, fi)); err != nil {
				return err
			}
		}
		if done {
			return nil
		}
		if err := contextErr(ctx); err != nil {
			return s.pathErr(op, c, err)
		}
	}
}

// Mkdir creates a directory; its parent must exist.
func (s *Store) Mkdir(ctx context.Context, p string, perm fs.FileMode) error {
	const op = "mkdir"
	c, err := s.begin(ctx, op, p, create)
	if err != nil {
		return err
	}
	if c == "" {
		return s.pathErr(op, c, fmt.Errorf("the store root exists: %w", syscall.EEXIST))
	}
	return s.do(ctx, op, c, func(cl *hdfs.Client, a attempt) error {
		err := cl.Mkdir(s.abs(c), hdfsPerm(perm))
		if err != nil && a.ambiguous && errors.Is(err, os.ErrExist) {
			if fi, serr := cl.Stat(s.abs(c)); serr == nil && fi.IsDir() {
				return nil // the lost answer of an earlier try
			}
		}
		return err
	})
}

// hdfsPerm converts permission bits to HDFS's, which keep the sticky bit
// as 01000.
func hdfsPerm(m fs.FileMode) os.FileMode {
	p := m.Perm()
	if m&fs.ModeSticky != 0 {
		p |= 0o1000
	}
	return p
}

// Delete removes a file or an empty directory.
func (s *Store) Delete(ctx context.Context, p string) error {
	const op = "delete"
	c, err := s.begin(ctx, op, p, lookup)
	if err != nil {
		return err
	}
	if c == "" {
		return s.pathErr(op, c, fmt.Errorf("the store root cannot be removed: %w", syscall.EBUSY))
	}
	return s.do(ctx, op, c, func(cl *hdfs.Client, a attempt) error {
		err := cl.Remove(s.abs(c))
		if err != nil && a.ambiguous && errors.Is(err, os.ErrNotExist) {
			return nil // the lost answer of an earlier try
		}
		return err
	})
}

// Rename moves a file or directory with rename(2)'s rules: a file at dst
// is replaced, an empty directory at dst is replaced by a directory, a
// directory that is not empty is not (ENOTEMPTY), and a file and a
// directory do not replace each other (EISDIR, ENOTDIR). The move itself
// is HDFS's atomic rename2 with OVERWRITE.
func (s *Store) Rename(ctx context.Context, src, dst string) error {
	const op = "rename"
	cs, err := s.begin(ctx, op, src, lookup)
	if err != nil {
		return err
	}
	cd, err := s.begin(ctx, op, dst, create)
	if err != nil {
		return err
	}
	both := cs + " -> " + cd
	switch {
	case cs == "" || cd == "":
		return s.pathErr(op, both, fmt.Errorf("the store root cannot be moved or replaced: %w", syscall.EBUSY))
	case strings.HasPrefix(cd+"/", cs+"/") && cd != cs:
		return s.pathErr(op, both, fmt.Errorf("a directory cannot move into itself: %w", syscall.EINVAL))
	}
	as, ad := s.abs(cs), s.abs(cd)
	return s.do(ctx, op, both, func(cl *hdfs.Client, a attempt) error {
		si, err := cl.Stat(as)
		if err != nil {
			if a.ambiguous && errors.Is(err, os.ErrNotExist) {
				if _, derr := cl.Stat(ad); derr == nil {
					return nil // the lost answer of an earlier try
				}
			}
			return err
		}
		if cs == cd {
			return nil
		}
		di, err := cl.Stat(ad)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return err
		case di.IsDir() && !si.IsDir():
			return s.pathErr(op, both, fmt.Errorf("%s is a directory: %w", cd, syscall.EISDIR))
		case !di.IsDir() && si.IsDir():
			return s.pathErr(op, both, fmt.Errorf("%s is not a directory: %w", cd, syscall.ENOTDIR))
		case di.IsDir():
			d, err := cl.Open(ad)
			if err != nil {
				return err
			}
			names, err := d.Readdirnames(1)
			d.Close()
			if err != nil && err != io.EOF {
				return err
			}
			if len(names) > 0 {
				return s.pathErr(op, both, fmt.Errorf("%s is not empty: %w", cd, syscall.ENOTEMPTY))
			}
		}
		return cl.Rename(as, ad)
	})
}

// Create starts writing a new file. The bytes go to a hidden temporary
// file in the target's directory, renamed over the target by Close.
func (s *Store) Create(ctx context.Context, p string, opts ufs.CreateOptions) (ufs.Writer, error) {
	const op = "create"
	c, err := s.begin(ctx, op, p, create)
	if err != nil {
		return nil, err
	}
	if c == "" {
		return nil, s.pathErr(op, c, fmt.Errorf("the store root is a directory: %w", syscall.EISDIR))
	}
	perm := opts.Mode.Perm()
	if perm == 0 {
		perm = 0o644
	}
	w := &writer{s: s, target: c}
	err = s.do(ctx, op, c, func(cl *hdfs.Client, a attempt) error {
		if w.tmp != "" {
			cl.Remove(w.tmp) // an earlier try's file, if it was made
		}
		if fi, err := cl.Stat(s.abs(c)); err == nil && fi.IsDir() {
			return s.pathErr(op, c, syscall.EISDIR)
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		repl, bs := s.cfg.replication, s.cfg.blockSize
		if repl == 0 || bs == 0 {
			d, err := cl.ServerDefaults()
			if err != nil {
				return err
			}
			if repl == 0 {
				repl = d.Replication
			}
			if bs == 0 {
				bs = d.BlockSize
			}
		}
		w.tmp = path.Join(path.Dir(s.abs(c)), tmpPrefix+strconv.FormatUint(rand.Uint64(), 36))
		fw, err := cl.CreateFile(w.tmp, repl, bs, perm)
		if err != nil {
			return err
		}
		w.nc, w.fw = a.nc, fw
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.hold(w.nc)
	return w, nil
}

// Chmod sets the permission bits (and the sticky bit).
func (s *Store) Chmod(ctx context.Context, p string, mode fs.FileMode) error {
	const op = "chmod"
	c, err := s.begin(ctx, op, p, lookup)
	if err != nil {
		return err
	}
	err = s.do(ctx, op, c, func(cl *hdfs.Client, _ attempt) error {
		return cl.Chmod(s.abs(c), hdfsPerm(mode))
	})
	return eperm(err)
}

// eperm reports a refused change of attributes as EPERM, as chmod(2)
// and chown(2) do, rather than EACCES.
func eperm(err error) error {
	var pe *fs.PathError
	if errors.Is(err, syscall.EACCES) && errors.As(err, &pe) {
		pe.Err = fmt.Errorf("%s: %w", strings.TrimSuffix(pe.Err.Error(), ": "+syscall.EACCES.Error()), syscall.EPERM)
	}
	return err
}

// Chown sets the owner and group. HDFS keeps names: the ids are looked
// up on this machine, and a name HDFS already has is sent again as it is
// (only a superuser may change a file's owner).
func (s *Store) Chown(ctx context.Context, p string, uid, gid uint32) error {
	const op = "chown"
	c, err := s.begin(ctx, op, p, lookup)
	if err != nil {
		return err
	}
	err = s.do(ctx, op, c, func(cl *hdfs.Client, _ attempt) error {
		fi, err := cl.Stat(s.abs(c))
		if err != nil {
			return err
		}
		hf, ok := fi.(*hdfs.FileInfo)
		if !ok {
			return fmt.Errorf("no owner in the namenode's answer")
		}
		owner, group := hf.Owner(), hf.OwnerGroup()
		if s.localID(owner, false) != uid {
			u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
			if err != nil {
				return s.pathErr(op, c, fmt.Errorf("uid %d has no user name on this machine: %w", uid, syscall.EINVAL))
			}
			owner = u.Username
		}
		if s.localID(group, true) != gid {
			g, err := user.LookupGroupId(strconv.FormatUint(uint64(gid), 10))
			if err != nil {
				return s.pathErr(op, c, fmt.Errorf("gid %d has no group name on this machine: %w", gid, syscall.EINVAL))
			}
			group = g.Name
		}
		if owner == hf.Owner() && group == hf.OwnerGroup() {
			return nil
		}
		return cl.Chown(s.abs(c), owner, group)
	})
	return eperm(err)
}

// Chtimes sets the modification time, to the second (colinmarc/hdfs
// sends whole seconds); the access time is kept.
func (s *Store) Chtimes(ctx context.Context, p string, mtime time.Time) error {
	const op = "chtimes"
	c, err := s.begin(ctx, op, p, lookup)
	if err != nil {
		return err
	}
	err = s.do(ctx, op, c, func(cl *hdfs.Client, _ attempt) error {
		fi, err := cl.Stat(s.abs(c))
		if err != nil {
			return err
		}
		atime := mtime
		if hf, ok := fi.(*hdfs.FileInfo); ok {
			atime = hf.AccessTime()
		}
		return cl.Chtimes(s.abs(c), atime, mtime)
	})
	return eperm(err)
}

// Truncate cuts a file to size bytes in place with HDFS's truncate. A
// cut inside a block starts a block recovery on the datanodes; the new
// length is visible at once.
func (s *Store) Truncate(ctx context.Context, p string, size int64) error {
	const op = "truncate"
	c, err := s.begin(ctx, op, p, lookup)
	if err != nil {
		return err
	}
	if size < 0 {
		return s.pathErr(op, c, fmt.Errorf("negative size %d: %w", size, syscall.EINVAL))
	}
	return s.do(ctx, op, c, func(cl *hdfs.Client, _ attempt) error {
		fi, err := cl.Stat(s.abs(c))
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return s.pathErr(op, c, syscall.EISDIR)
		}
		if fi.Size() == size {
			return nil
		}
		if size > fi.Size() {
			return s.pathErr(op, c, fmt.Errorf("HDFS cannot grow a file by truncate (%d to %d bytes): %w", fi.Size(), size, syscall.EINVAL))
		}
		_, err = cl.Truncate(s.abs(c), size)
		return err
	})
}

// nameOrder compares two names as a namenode orders a directory's
// children (DFSUtilClient.compareBytes: bytes as signed values, so a name
// with a byte of 0x80 or more sorts before one with an ASCII byte there).
func nameOrder(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if x, y := int8(a[i]), int8(b[i]); x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}
