package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/alluxio-go/alluxio/ufs"
)

// Config describes the bucket a Store serves and tunes it. The zero
// values of the numbers pick the defaults noted.
type Config struct {
	// BucketURI names the bucket in errors and logs ("s3://bucket"); an
	// object is named BucketURI+"/"+key.
	BucketURI string
	// Prefix is the key prefix of the store's root: "" or "dir/".
	Prefix string
	// FileMode and DirMode are the permission bits reported for files
	// and directories, as they are.
	FileMode, DirMode fs.FileMode
	// MaxKeyLen is the store's limit on a key's length in bytes (0: none).
	MaxKeyLen int
	// ListPage is how many keys one listing asks for (default 1000).
	ListPage int
	// Parallel bounds the concurrent requests of a directory rename
	// (default 16).
	Parallel int
	// PartSize is the size of an upload's parts (default 8 MiB), and
	// the size up to which a file is sent in one PutObject.
	PartSize int64
	// MaxPartSize is the store's largest part (default 5 GiB).
	MaxPartSize int64
	// MinPartSize is the store's smallest part but the last (default
	// 5 MiB, as S3's).
	MinPartSize int64
	// MaxParts is the store's limit on the parts of an upload (default
	// 10000).
	MaxParts int
	// PartsInFlight is how many parts of one upload are sent at once
	// while the next fills (default 1); each holds its bytes until sent,
	// so a writer holds up to PartsInFlight+1 parts in memory.
	PartsInFlight int
	// ReadStall is how long a read may get no data before the request is
	// dropped and resumed (0: no limit).
	ReadStall time.Duration
	// ReadStallKey is the option that sets ReadStall, named in errors.
	ReadStallKey string
	// ReadResumes is how many times one reader resumes a broken or
	// stalled body before it fails.
	ReadResumes int
	// Scrub removes credentials from text that came from elsewhere
	// before it goes into an error or a log line (nil: none to remove).
	Scrub func(string) string
	// Component is the component attribute of log lines (default
	// "ufs/objstore").
	Component string
}

// Defaults of the Config numbers.
const (
	defaultListPage    = 1000
	defaultParallel    = 16
	defaultPartSize    = 8 << 20
	defaultMaxPartSize = 5 << 30
	defaultMinPartSize = 5 << 20
	defaultMaxParts    = 10000
)

// Store is the under-store of a bucket, or of the keys under a prefix of
// one, built on a Client. It is safe for concurrent use.
type Store struct {
	cfg    Config
	client Client
	closed atomic.Bool
}

var (
	_ ufs.UFS        = (*Store)(nil)
	_ ufs.Retargeter = (*writer)(nil)
	_ ufs.BaseTaker  = (*writer)(nil)
)

// New returns the store of the objects c reaches, laid out as cfg says.
func New(c Client, cfg Config) *Store {
	if cfg.ListPage <= 0 {
		cfg.ListPage = defaultListPage
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = defaultParallel
	}
	if cfg.PartSize <= 0 {
		cfg.PartSize = defaultPartSize
	}
	if cfg.MaxPartSize <= 0 {
		cfg.MaxPartSize = defaultMaxPartSize
	}
	if cfg.MinPartSize <= 0 {
		cfg.MinPartSize = defaultMinPartSize
	}
	if cfg.MaxParts <= 0 {
		cfg.MaxParts = defaultMaxParts
	}
	if cfg.PartsInFlight <= 0 {
		cfg.PartsInFlight = 1
	}
	if cfg.Scrub == nil {
		cfg.Scrub = func(s string) string { return s }
	}
	if cfg.Component == "" {
		cfg.Component = "ufs/objstore"
	}
	return &Store{cfg: cfg, client: c}
}

// Close marks the store closed and closes the client when it is an
// io.Closer (to drop idle connections). Operations after Close fail with
// EBADF.
func (s *Store) Close() error {
	s.closed.Store(true)
	if c, ok := s.client.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// uri names the object key for errors and logs.
func (s *Store) uri(key string) string {
	if key == "" {
		return s.cfg.BucketURI
	}
	return s.cfg.BucketURI + "/" + key
}

// pathErr builds the error of op on the object key, or on the key a
// KeyError names.
func (s *Store) pathErr(op, key string, err error) error {
	var ke *KeyError
	if errors.As(err, &ke) {
		key, err = ke.Key, ke.Err
	}
	return &fs.PathError{Op: op, Path: s.uri(key), Err: err}
}

// key returns the object key of the clean path c ("" for the root is the
// prefix itself, which is either "" or ends in "/").
func (s *Store) key(c string) string {
	if c == "" {
		return s.cfg.Prefix
	}
	return s.cfg.Prefix + c
}

// dirKey returns the key prefix of the directory c: its marker's key.
func (s *Store) dirKey(c string) string {
	if c == "" {
		return s.cfg.Prefix
	}
	return s.cfg.Prefix + c + "/"
}

// begin checks the store and the context and cleans p.
func (s *Store) begin(ctx context.Context, op, p string) (string, error) {
	if s.closed.Load() {
		return "", &fs.PathError{Op: op, Path: s.uri(s.cfg.Prefix + strings.TrimPrefix(p, "/")),
			Err: fmt.Errorf("store is closed: %w", syscall.EBADF)}
	}
	c, err := ufs.Clean(p)
	if err != nil {
		return "", &fs.PathError{Op: op, Path: s.uri(s.cfg.Prefix + p),
			Err: fmt.Errorf("path climbs above the store root: %w", syscall.EINVAL)}
	}
	if err := ContextError(ctx); err != nil {
		return "", s.pathErr(op, s.key(c), err)
	}
	if s.cfg.MaxKeyLen > 0 && len(s.key(c)) > s.cfg.MaxKeyLen {
		return "", s.pathErr(op, s.key(c), syscall.ENAMETOOLONG)
	}
	return c, nil
}

// fileInfo describes an object as the file name.
func (s *Store) fileInfo(name string, o Object) ufs.FileInfo {
	return ufs.FileInfo{Name: name, Size: o.Size, Mode: s.cfg.FileMode, ModTime: o.ModTime, ETag: o.ETag}
}

// dirInfo describes a directory; mtime is its marker's, when it has one.
func (s *Store) dirInfo(name string, mtime time.Time) ufs.FileInfo {
	return ufs.FileInfo{Name: name, Mode: fs.ModeDir | s.cfg.DirMode, ModTime: mtime}
}

// Stat describes the entry at p: the object p, else the directory p
// (marker or implied). The root is always a directory; its Stat lists one
// key, which checks the endpoint, the credentials and the bucket.
func (s *Store) Stat(ctx context.Context, p string) (ufs.FileInfo, error) {
	const op = "stat"
	c, err := s.begin(ctx, op, p)
	if err != nil {
		return ufs.FileInfo{}, err
	}
	if c == "" {
		if _, err := s.client.ListObjects(ctx, s.cfg.Prefix, "", "", 1); err != nil {
			return ufs.FileInfo{}, s.pathErr(op, "", err)
		}
		return s.dirInfo("", time.Time{}), nil
	}
	return s.stat(ctx, op, c)
}

// stat is Stat of the clean non-root path c, with errors reported as op:
// HEAD of the key, then a one-key listing under the marker's key, which
// tells a directory with a marker (the marker sorts first, and the listing
// gives its time), an implied one and nothing apart in one request.
func (s *Store) stat(ctx context.Context, op, c string) (ufs.FileInfo, error) {
	name := path.Base(c)
	key := s.key(c)
	o, err := s.client.HeadObject(ctx, key)
	if err == nil {
		return s.fileInfo(name, o), nil
	}
	if !errors.Is(err, syscall.ENOENT) {
		return ufs.FileInfo{}, s.pathErr(op, key, err)
	}
	return s.statDir(ctx, op, c)
}

// statDir describes the directory c from a one-key listing under its
// marker's key: ENOENT when nothing is there.
func (s *Store) statDir(ctx context.Context, op, c string) (ufs.FileInfo, error) {
	dk := s.dirKey(c)
	pg, err := s.client.ListObjects(ctx, dk, "", "", 1)
	if err != nil {
		return ufs.FileInfo{}, s.pathErr(op, dk, err)
	}
	switch {
	case len(pg.Objects) > 0 && pg.Objects[0].Key == dk:
		return s.dirInfo(path.Base(c), pg.Objects[0].ModTime), nil
	case len(pg.Objects) > 0 || len(pg.Prefixes) > 0:
		return s.dirInfo(path.Base(c), time.Time{}), nil
	}
	return ufs.FileInfo{}, s.pathErr(op, s.key(c), syscall.ENOENT)
}

// List calls fn for each entry of the directory dir, one listing page
// with the delimiter "/" at a time, in key order.
func (s *Store) List(ctx context.Context, dir string, fn func(ufs.FileInfo) error) error {
	const op = "list"
	c, err := s.begin(ctx, op, dir)
	if err != nil {
		return err
	}
	prefix := s.dirKey(c)
	found := c == ""
	var files []string // see pageEntries
	token := ""
	for {
		pg, err := s.client.ListObjects(ctx, prefix, "/", token, s.cfg.ListPage)
		if err != nil {
			return s.pathErr(op, prefix, err)
		}
		if len(pg.Objects) > 0 || len(pg.Prefixes) > 0 {
			found = true
		}
		for _, fi := range s.pageEntries(prefix, pg.Objects, pg.Prefixes, &files) {
			if err := fn(fi); err != nil {
				return err
			}
		}
		if pg.Next == "" || pg.Next == token {
			break
		}
		token = pg.Next
	}
	if found {
		return nil
	}
	// Nothing under the prefix: dir is a file or is missing.
	key := s.key(c)
	if _, err := s.client.HeadObject(ctx, key); err != nil {
		return s.pathErr(op, key, err)
	}
	return s.pathErr(op, key, syscall.ENOTDIR)
}

// listEntry is one name of a listing page: an object or a common prefix,
// by its key relative to the directory.
type listEntry struct {
	rel string  // "name" for an object, "name/" for a common prefix
	obj *Object // nil for a common prefix
}

// pageEntries turns one listing page of the directory with key prefix
// prefix into entries, in key order. files carries, from page to page, the
// names of files that a common prefix of the same name may still follow:
// keys sort "a", "a-1", "a.b", "a/", so the file "a" shadows the directory
// "a" (as Stat has it) without a lookup.
func (s *Store) pageEntries(prefix string, objs []Object, dirs []string, files *[]string) []ufs.FileInfo {
	ents := make([]listEntry, 0, len(objs)+len(dirs))
	for i := range objs {
		ents = append(ents, listEntry{rel: strings.TrimPrefix(objs[i].Key, prefix), obj: &objs[i]})
	}
	for _, d := range dirs {
		ents = append(ents, listEntry{rel: strings.TrimPrefix(d, prefix)})
	}
	slices.SortFunc(ents, func(a, b listEntry) int { return strings.Compare(a.rel, b.rel) })
	out := make([]ufs.FileInfo, 0, len(ents))
	for _, e := range ents {
		*files = slices.DeleteFunc(*files, func(f string) bool { return !strings.HasPrefix(e.rel, f) })
		if e.obj != nil {
			if !validName(e.rel) { // the marker itself, or a key with an odd element
				continue
			}
			out = append(out, s.fileInfo(e.rel, *e.obj))
			*files = append(*files, e.rel)
			continue
		}
		name := strings.TrimSuffix(e.rel, "/")
		if !validName(name) || slices.Contains(*files, name) {
			continue
		}
		out = append(out, s.dirInfo(name, time.Time{}))
	}
	return out
}

// validName reports whether a listed name can be addressed as one path
// element.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.Contains(name, "/")
}

// Delete removes the file p, or the marker of the empty directory p
// (ENOTEMPTY while anything is under it). The key is looked up first: a
// store may answer the delete of a missing key with success.
func (s *Store) Delete(ctx context.Context, p string) error {
	const op = "delete"
	c, err := s.begin(ctx, op, p)
	if err != nil {
		return err
	}
	if c == "" {
		return s.pathErr(op, "", fmt.Errorf("the store root cannot be removed: %w", syscall.EBUSY))
	}
	key := s.key(c)
	_, err = s.client.HeadObject(ctx, key)
	if err == nil {
		return s.deleteKey(ctx, op, key)
	}
	if !errors.Is(err, syscall.ENOENT) {
		return s.pathErr(op, key, err)
	}
	dk := s.dirKey(c)
	marker, others, err := s.dirContents(ctx, dk)
	if err != nil {
		return s.pathErr(op, dk, err)
	}
	switch {
	case others:
		return s.pathErr(op, dk, syscall.ENOTEMPTY)
	case !marker:
		return s.pathErr(op, key, syscall.ENOENT)
	}
	return s.deleteKey(ctx, op, dk)
}

// dirContents reports whether the directory with key prefix dk has a
// marker and whether any other key is under it.
func (s *Store) dirContents(ctx context.Context, dk string) (marker, others bool, err error) {
	pg, err := s.client.ListObjects(ctx, dk, "", "", 2)
	if err != nil {
		return false, false, err
	}
	for _, o := range pg.Objects {
		if o.Key == dk {
			marker = true
		} else {
			others = true
		}
	}
	return marker, others || len(pg.Prefixes) > 0, nil
}

// deleteKey deletes one object.
func (s *Store) deleteKey(ctx context.Context, op, key string) error {
	if err := s.client.DeleteObject(ctx, key); err != nil {
		return s.pathErr(op, key, err)
	}
	return nil
}

// Mkdir writes the marker of the directory p. The permission is not kept;
// the parent must exist.
func (s *Store) Mkdir(ctx context.Context, p string, _ fs.FileMode) error {
	const op = "mkdir"
	c, err := s.begin(ctx, op, p)
	if err != nil {
		return err
	}
	if c == "" {
		return s.pathErr(op, "", syscall.EEXIST)
	}
	if s.cfg.MaxKeyLen > 0 && len(s.dirKey(c)) > s.cfg.MaxKeyLen {
		return s.pathErr(op, s.key(c), syscall.ENAMETOOLONG) // its marker's key is one longer
	}
	if _, err := s.stat(ctx, op, c); err == nil {
		return s.pathErr(op, s.key(c), syscall.EEXIST)
	} else if !errors.Is(err, syscall.ENOENT) {
		return err
	}
	if parent := path.Dir(c); parent != "." {
		// The parent is looked for as a directory first, one listing:
		// only when it is not one does a HEAD tell a file (ENOTDIR) from
		// nothing (ENOENT).
		if _, err := s.statDir(ctx, op, parent); errors.Is(err, syscall.ENOENT) {
			switch _, herr := s.client.HeadObject(ctx, s.key(parent)); {
			case herr == nil:
				return s.pathErr(op, s.key(parent), syscall.ENOTDIR)
			case !errors.Is(herr, syscall.ENOENT):
				return s.pathErr(op, s.key(parent), herr)
			}
			return err
		} else if err != nil {
			return err
		}
	}
	return s.putMarker(ctx, op, s.dirKey(c))
}

// putMarker writes the zero-byte object that marks a directory.
func (s *Store) putMarker(ctx context.Context, op, dk string) error {
	if _, err := s.client.PutObject(ctx, dk, nil); err != nil {
		return s.pathErr(op, dk, err)
	}
	return nil
}

// Rename moves a file or a directory. A file moves by one server-side
// move, or a copy and a delete, replacing a file at dst. A directory moves
// key by key (renameDir), so the move is NOT atomic: a failure part way
// leaves every object whole in at least one of the two trees. dst may be
// an empty directory, which the moved one
// replaces. The parent of dst is not checked: an object store has no such
// constraint, and the master has already checked it.
func (s *Store) Rename(ctx context.Context, src, dst string) error {
	const op = "rename"
	cs, cd, si, err := s.beginPair(ctx, op, src, dst, fmt.Errorf("the store root cannot be moved: %w", syscall.EBUSY))
	if err != nil {
		return err
	}
	if cs == cd {
		return nil
	}
	if strings.HasPrefix(cd, cs+"/") {
		return s.pathErr(op, s.key(cs)+" -> "+s.key(cd), fmt.Errorf("cannot move a directory into itself: %w", syscall.EINVAL))
	}
	di, err := s.stat(ctx, op, cd)
	exists := err == nil
	if err != nil && !errors.Is(err, syscall.ENOENT) {
		return err
	}
	if !si.IsDir() {
		if exists && di.IsDir() {
			return s.pathErr(op, s.dirKey(cd), syscall.EISDIR)
		}
		return s.moveKey(ctx, op, s.key(cs), s.key(cd), si)
	}
	if exists {
		if !di.IsDir() {
			return s.pathErr(op, s.key(cd), syscall.ENOTDIR)
		}
		_, others, err := s.dirContents(ctx, s.dirKey(cd))
		if err != nil {
			return s.pathErr(op, s.dirKey(cd), err)
		}
		if others {
			return s.pathErr(op, s.dirKey(cd), syscall.ENOTEMPTY)
		}
	}
	return s.renameDir(ctx, op, s.dirKey(cs), s.dirKey(cd), exists)
}

// beginPair starts an operation from src to dst: both paths checked and
// cleaned, the store root refused with rootErr, and src described.
func (s *Store) beginPair(ctx context.Context, op, src, dst string, rootErr error) (cs, cd string, si ufs.FileInfo, err error) {
	if cs, err = s.begin(ctx, op, src); err != nil {
		return "", "", si, err
	}
	if cd, err = s.begin(ctx, op, dst); err != nil {
		return "", "", si, err
	}
	if cs == "" || cd == "" {
		return "", "", si, s.pathErr(op, s.key(cs)+" -> "+s.key(cd), rootErr)
	}
	si, err = s.stat(ctx, op, cs)
	return cs, cd, si, err
}

// checkedMove is the least size of an object whose move by copying looks
// at the source again before deleting it: its copy takes long enough for
// a new version to land at the source meanwhile.
const checkedMove = 8 << 20

// moveKey moves one object (si, as a Stat described it): a server-side
// move where the store has one, else a copy and a delete. A big object
// whose source holds another version once it is copied (a commit from
// another node landed meanwhile) keeps that version at the source, for
// the master to move when it completes the file: the delete would lose
// it.
func (s *Store) moveKey(ctx context.Context, op, src, dst string, si ufs.FileInfo) error {
	if m, ok := s.client.(Mover); ok {
		if err := m.MoveObject(ctx, src, dst); err != nil {
			return s.pathErr(op, src, err)
		}
		return nil
	}
	if err := s.client.CopyObject(ctx, src, dst, si.Size); err != nil {
		return s.pathErr(op, src, err)
	}
	if si.Size >= checkedMove && si.ETag != "" {
		if o, err := s.client.HeadObject(ctx, src); err == nil && o.ETag != si.ETag {
			slog.Info("an object written while it was renamed stays", "component", s.cfg.Component,
				"key", src, "to", dst)
			return nil
		}
	}
	return s.deleteKey(ctx, op, src)
}

// renameDir moves every key under the prefix from to the prefix to. A
// store that moves keys (Mover) moves them a listing page at a time. One
// that copies copies every key first and then deletes the sources, so a
// failure while copying leaves the directory whole where it was: the
// copies made are taken back, and the rename can be made again. existed
// says the directory at to was there before, empty: its marker stays
// should the copies be taken back.
//
// The delete phase deletes only the keys copied, as they were copied: an
// object written under the old prefix since (a commit under way when the
// rename began, which the master moves when it completes) stays. (It
// lists every key before deleting any, so a version that lands between
// that listing and its delete is still lost; the copy phase and the
// listing hold every key's name in memory.) A delete phase that deletes
// nothing, with every copied key still there as copied (the store
// refuses deletes), takes the copies back and fails. Otherwise the rename
// has succeeded, whatever the deletes do: a key they leave under the old
// prefix is a spare copy, logged (a metadata sync brings it back as a
// directory at the old name), where reporting a failure would keep the
// directory in the namespace at a place the store holds only part of.
func (s *Store) renameDir(ctx context.Context, op, from, to string, existed bool) error {
	if mover, ok := s.client.(Mover); ok {
		return s.moveDir(ctx, op, from, to, mover)
	}
	copied := map[string]string{} // key: ETag
	if err := s.eachPage(ctx, op, from, func(objs []Object) error {
		for _, o := range objs {
			copied[o.Key] = o.ETag
		}
		return s.copyKeys(ctx, op, from, to, objs)
	}); err != nil {
		s.takeBack(ctx, op, from, to, existed)
		return err
	}
	// List every key before deleting any: not every server's listing
	// token survives deletes before it.
	var gone []string
	err := s.eachPage(ctx, op, from, func(objs []Object) error {
		for _, o := range objs {
			if etag, ok := copied[o.Key]; ok && etag == o.ETag {
				gone = append(gone, o.Key)
			} else {
				slog.Info("a key written under a directory while it was renamed stays", "component", s.cfg.Component,
					"key", o.Key, "to", to)
			}
		}
		return nil
	})
	deleted := false
	for len(gone) > 0 && err == nil {
		n := min(len(gone), s.cfg.ListPage)
		if err = s.deleteKeys(ctx, op, gone[:n]); err == nil {
			deleted = true
		}
		gone = gone[n:]
	}
	if err == nil {
		return nil
	}
	if !deleted && s.untouched(ctx, op, from, copied) {
		s.takeBack(ctx, op, from, to, existed)
		return err
	}
	slog.Warn("a directory rename left copies under the old prefix", "component", s.cfg.Component,
		"from", from, "to", to, "err", err)
	return nil
}

// takeBack deletes the copies a directory rename from from to to made,
// but the marker of to when existed.
func (s *Store) takeBack(ctx context.Context, op, from, to string, existed bool) {
	ctx = context.WithoutCancel(ctx)
	if err := s.eachPage(ctx, op, from, func(objs []Object) error {
		return s.deleteKeys(ctx, op, s.moved(from, to, objs, existed))
	}); err != nil {
		slog.Warn("could not take back the copies of a directory rename that failed", "component", s.cfg.Component,
			"from", from, "to", to, "err", err)
	}
}

// untouched reports whether every key a directory rename copied is still
// under the prefix from as it was copied (keys maps each to its ETag).
func (s *Store) untouched(ctx context.Context, op, from string, keys map[string]string) bool {
	n := 0
	err := s.eachPage(context.WithoutCancel(ctx), op, from, func(objs []Object) error {
		for _, o := range objs {
			if etag, ok := keys[o.Key]; ok && etag == o.ETag {
				n++
			}
		}
		return nil
	})
	return err == nil && n == len(keys)
}

// drainPages calls fn with the first page of the keys under prefix until
// none are left: fn takes each page's keys away (it moves or deletes
// them), so each round lists from the start.
func (s *Store) drainPages(ctx context.Context, op, prefix string, fn func([]Object) error) error {
	var first string
	for {
		pg, err := s.client.ListObjects(ctx, prefix, "", "", s.cfg.ListPage)
		if err != nil {
			return s.pathErr(op, prefix, err)
		}
		if len(pg.Objects) == 0 {
			return nil
		}
		if pg.Objects[0].Key == first {
			return s.pathErr(op, first, fmt.Errorf("the server keeps listing a key moved or deleted: %w", syscall.EIO))
		}
		first = pg.Objects[0].Key
		if err := fn(pg.Objects); err != nil {
			return err
		}
		if pg.Next == "" {
			return nil
		}
	}
}

// eachPage calls fn with each page of the keys under prefix, which fn
// leaves in place.
func (s *Store) eachPage(ctx context.Context, op, prefix string, fn func([]Object) error) error {
	token := ""
	for {
		pg, err := s.client.ListObjects(ctx, prefix, "", token, s.cfg.ListPage)
		if err != nil {
			return s.pathErr(op, prefix, err)
		}
		if len(pg.Objects) > 0 {
			if err := fn(pg.Objects); err != nil {
				return err
			}
		}
		if pg.Next == "" {
			return nil
		}
		token = pg.Next
	}
}

// copyKeys copies objs, keys under the prefix from, to the prefix to.
func (s *Store) copyKeys(ctx context.Context, op, from, to string, objs []Object) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.Parallel)
	for _, o := range objs {
		src, dst := o.Key, to+strings.TrimPrefix(o.Key, from)
		if o.Size == 0 && strings.HasSuffix(src, "/") {
			// A marker is written anew: copying it gains nothing, and
			// some servers keep markers as directories they cannot copy.
			g.Go(func() error { return s.putMarker(gctx, op, dst) })
			continue
		}
		g.Go(func() error {
			if err := s.client.CopyObject(gctx, src, dst, o.Size); err != nil {
				return s.pathErr(op, src, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// moved returns the keys under the prefix to that objs, keys under from,
// move to; without the marker of to itself when skipTop.
func (s *Store) moved(from, to string, objs []Object, skipTop bool) []string {
	var keys []string
	for _, o := range objs {
		k := to + strings.TrimPrefix(o.Key, from)
		if skipTop && k == to {
			continue
		}
		keys = append(keys, k)
	}
	return keys
}

// moveDir moves the keys under the prefix from to the prefix to, a listing
// page at a time, with a store that moves keys.
func (s *Store) moveDir(ctx context.Context, op, from, to string, mover Mover) error {
	return s.drainPages(ctx, op, from, func(objs []Object) error {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(s.cfg.Parallel)
		for _, o := range objs {
			src, dst := o.Key, to+strings.TrimPrefix(o.Key, from)
			g.Go(func() error {
				if err := mover.MoveObject(gctx, src, dst); err != nil {
					return s.pathErr(op, src, err)
				}
				return nil
			})
		}
		return g.Wait()
	})
}

// deleteKeys deletes keys, at most Config.ListPage of them: in one
// request where the store can, else one request each.
func (s *Store) deleteKeys(ctx context.Context, op string, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	if b, ok := s.client.(BatchDeleter); ok {
		if err := b.DeleteObjects(ctx, keys); err != nil {
			return s.pathErr(op, keys[0], err)
		}
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.Parallel)
	for _, k := range keys {
		g.Go(func() error { return s.deleteKey(gctx, op, k) })
	}
	return g.Wait()
}

// Copy copies the file src to dst on the server, replacing a file at dst;
// the data does not pass through this process. Directories are refused
// (EISDIR).
func (s *Store) Copy(ctx context.Context, src, dst string) error {
	const op = "copy"
	cs, cd, si, err := s.beginPair(ctx, op, src, dst, syscall.EISDIR)
	if err != nil {
		return err
	}
	if si.IsDir() {
		return s.pathErr(op, s.key(cs), syscall.EISDIR)
	}
	if cs == cd {
		return nil
	}
	if err := s.client.CopyObject(ctx, s.key(cs), s.key(cd), si.Size); err != nil {
		return s.pathErr(op, s.key(cs), err)
	}
	return nil
}
