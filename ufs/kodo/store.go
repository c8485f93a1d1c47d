package kodo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/qiniu/go-sdk/v7/storage"
	"golang.org/x/sync/errgroup"

	"github.com/alluxio-go/alluxio/ufs"
)

const (
	// listPage is how many entries one rsf listing asks for (Kodo's
	// maximum).
	listPage = 1000
	// maxKeyLen is Kodo's limit on the length of a key in bytes.
	maxKeyLen = 750
	// moveParallel bounds the concurrent moves of a directory rename.
	moveParallel = 16
)

// begin checks the store and the context and cleans p.
func (s *Store) begin(ctx context.Context, op, p string) (string, error) {
	if s.closed.Load() {
		return "", &fs.PathError{Op: op, Path: s.uri(s.cfg.prefix + strings.TrimPrefix(p, "/")),
			Err: fmt.Errorf("store is closed: %w", syscall.EBADF)}
	}
	c, err := ufs.Clean(p)
	if err != nil {
		return "", &fs.PathError{Op: op, Path: s.uri(s.cfg.prefix + p),
			Err: fmt.Errorf("path climbs above the store root: %w", syscall.EINVAL)}
	}
	if err := ctxErr(ctx); err != nil {
		return "", s.pathErr(op, s.key(c), err)
	}
	if len(s.dirKey(c)) > maxKeyLen {
		return "", s.pathErr(op, s.key(c), syscall.ENAMETOOLONG)
	}
	return c, nil
}

// key returns the object key of the clean path c.
func (s *Store) key(c string) string {
	if c == "" {
		return s.cfg.prefix
	}
	return s.cfg.prefix + c
}

// dirKey returns the key prefix of the directory c: its marker's key.
func (s *Store) dirKey(c string) string {
	if c == "" {
		return s.cfg.prefix
	}
	return s.cfg.prefix + c + "/"
}

// fileInfo describes an object as a file; putTime is in Kodo's 100 ns
// units.
func (s *Store) fileInfo(name string, size, putTime int64, hash string) ufs.FileInfo {
	return ufs.FileInfo{Name: name, Size: size, Mode: s.cfg.fileMode, ModTime: time.Unix(0, putTime*100), ETag: hash}
}

// dirInfo describes a directory.
func (s *Store) dirInfo(name string, putTime int64) ufs.FileInfo {
	fi := ufs.FileInfo{Name: name, Mode: fs.ModeDir | s.cfg.dirMode}
	if putTime > 0 {
		fi.ModTime = time.Unix(0, putTime*100)
	}
	return fi
}

// statKey asks rs for one key.
func (s *Store) statKey(ctx context.Context, key string) (storage.FileInfo, error) {
	var info storage.FileInfo
	err := s.manage(ctx, "stat", s.cfg.rsHost+storage.URIStat(s.cfg.bucket, key), &info)
	return info, err
}

// listRet is rsf's answer to /list.
type listRet struct {
	Marker         string             `json:"marker"`
	Items          []storage.ListItem `json:"items"`
	CommonPrefixes []string           `json:"commonPrefixes"`
}

// listKeys reads one rsf listing page.
func (s *Store) listKeys(ctx context.Context, prefix, delimiter, marker string, limit int) (*listRet, error) {
	q := url.Values{}
	q.Set("bucket", s.cfg.bucket)
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	if delimiter != "" {
		q.Set("delimiter", delimiter)
	}
	if marker != "" {
		q.Set("marker", marker)
	}
	q.Set("limit", strconv.Itoa(limit))
	var ret listRet
	if err := s.manage(ctx, "list", s.cfg.rsfHost+"/list?"+q.Encode(), &ret); err != nil {
		return nil, err
	}
	return &ret, nil
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
		if _, err := s.listKeys(ctx, s.cfg.prefix, "", "", 1); err != nil {
			return ufs.FileInfo{}, s.pathErr(op, "", err)
		}
		return s.dirInfo("", 0), nil
	}
	return s.stat(ctx, op, c)
}

// stat is Stat of the clean non-root path c, with errors reported as op.
func (s *Store) stat(ctx context.Context, op, c string) (ufs.FileInfo, error) {
	name := path.Base(c)
	key := s.key(c)
	info, err := s.statKey(ctx, key)
	if err == nil {
		return s.fileInfo(name, info.Fsize, info.PutTime, info.Hash), nil
	}
	if !errors.Is(err, syscall.ENOENT) {
		return ufs.FileInfo{}, s.pathErr(op, key, err)
	}
	dk := s.dirKey(c)
	info, err = s.statKey(ctx, dk)
	if err == nil {
		return s.dirInfo(name, info.PutTime), nil
	}
	if !errors.Is(err, syscall.ENOENT) {
		return ufs.FileInfo{}, s.pathErr(op, dk, err)
	}
	ret, err := s.listKeys(ctx, dk, "", "", 1)
	if err != nil {
		return ufs.FileInfo{}, s.pathErr(op, dk, err)
	}
	if len(ret.Items) > 0 || len(ret.CommonPrefixes) > 0 {
		return s.dirInfo(name, 0), nil
	}
	return ufs.FileInfo{}, s.pathErr(op, key, syscall.ENOENT)
}

// listEntry is one name of a listing page: an object or a common prefix,
// by its key relative to the directory.
type listEntry struct {
	rel  string // "name" for an object, "name/" for a common prefix
	item *storage.ListItem
}

// List calls fn for each entry of the directory dir, one rsf page (1000
// entries) at a time, in key order.
func (s *Store) List(ctx context.Context, dir string, fn func(ufs.FileInfo) error) error {
	const op = "list"
	c, err := s.begin(ctx, op, dir)
	if err != nil {
		return err
	}
	prefix := s.dirKey(c)
	found := c == ""
	var files []string // see pageEntries
	marker := ""
	for {
		ret, err := s.listKeys(ctx, prefix, "/", marker, listPage)
		if err != nil {
			return s.pathErr(op, prefix, err)
		}
		if len(ret.Items) > 0 || len(ret.CommonPrefixes) > 0 {
			found = true
		}
		for _, fi := range s.pageEntries(prefix, ret.Items, ret.CommonPrefixes, &files) {
			if err := fn(fi); err != nil {
				return err
			}
		}
		if ret.Marker == "" || ret.Marker == marker {
			break
		}
		marker = ret.Marker
	}
	if found {
		return nil
	}
	// Nothing under the prefix: dir is a file or is missing.
	key := s.key(c)
	_, err = s.statKey(ctx, key)
	switch {
	case err == nil:
		return s.pathErr(op, key, syscall.ENOTDIR)
	default:
		return s.pathErr(op, key, err)
	}
}

// pageEntries turns one listing page of the directory with key prefix
// prefix into entries, in key order. files carries, from page to page,
// the names of files that a common prefix of the same name may still
// follow: the file "a" shadows the directory "a" (as Stat has it).
func (s *Store) pageEntries(prefix string, items []storage.ListItem, dirs []string, files *[]string) []ufs.FileInfo {
	ents := make([]listEntry, 0, len(items)+len(dirs))
	for i := range items {
		ents = append(ents, listEntry{rel: strings.TrimPrefix(items[i].Key, prefix), item: &items[i]})
	}
	for _, d := range dirs {
		ents = append(ents, listEntry{rel: strings.TrimPrefix(d, prefix)})
	}
	slices.SortFunc(ents, func(a, b listEntry) int { return strings.Compare(a.rel, b.rel) })
	out := make([]ufs.FileInfo, 0, len(ents))
	for _, e := range ents {
		*files = slices.DeleteFunc(*files, func(f string) bool { return !strings.HasPrefix(e.rel, f) })
		if e.item != nil {
			if !validName(e.rel) { // the marker itself, or a key with an odd element
				continue
			}
			out = append(out, s.fileInfo(e.rel, e.item.Fsize, e.item.PutTime, e.item.Hash))
			*files = append(*files, e.rel)
			continue
		}
		name := strings.TrimSuffix(e.rel, "/")
		if !validName(name) || slices.Contains(*files, name) {
			continue
		}
		out = append(out, s.dirInfo(name, 0))
	}
	return out
}

// validName reports whether a listed name can be addressed as one path
// element.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.Contains(name, "/")
}

// Delete removes the file p, or the marker of the empty directory p.
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
	err = s.deleteKey(ctx, op, key)
	if !errors.Is(err, syscall.ENOENT) {
		return err
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
	ret, err := s.listKeys(ctx, dk, "", "", 2)
	if err != nil {
		return false, false, err
	}
	for _, it := range ret.Items {
		if it.Key == dk {
			marker = true
		} else {
			others = true
		}
	}
	return marker, others || len(ret.CommonPrefixes) > 0, nil
}

// deleteKey deletes one object.
func (s *Store) deleteKey(ctx context.Context, op, key string) error {
	if err := s.manage(ctx, "delete", s.cfg.rsHost+storage.URIDelete(s.cfg.bucket, key), nil); err != nil {
		return s.pathErr(op, key, err)
	}
	return nil
}

// Mkdir writes the marker of the directory p. The permission is not kept
// (see the package doc); the parent must exist.
func (s *Store) Mkdir(ctx context.Context, p string, _ fs.FileMode) error {
	const op = "mkdir"
	c, err := s.begin(ctx, op, p)
	if err != nil {
		return err
	}
	if c == "" {
		return s.pathErr(op, "", syscall.EEXIST)
	}
	if _, err := s.stat(ctx, op, c); err == nil {
		return s.pathErr(op, s.key(c), syscall.EEXIST)
	} else if !errors.Is(err, syscall.ENOENT) {
		return err
	}
	if parent := path.Dir(c); parent != "." {
		fi, err := s.stat(ctx, op, parent)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return s.pathErr(op, s.key(parent), syscall.ENOTDIR)
		}
	}
	if _, err := s.formPut(ctx, s.dirKey(c), nil); err != nil {
		return s.pathErr(op, s.dirKey(c), err)
	}
	return nil
}

// formPut uploads data as the object key in one form upload, replacing
// what is there, and returns its hash.
func (s *Store) formPut(ctx context.Context, key string, data []byte) (string, error) {
	token := s.upToken(key)
	var ret storage.PutRet
	err := s.retry(ctx, "form upload", func(ctx context.Context) error {
		return s.form.Put(ctx, &ret, token, key, bytes.NewReader(data), int64(len(data)),
			&storage.PutExtra{UpHost: s.cfg.upHost})
	})
	return ret.Hash, err
}

// Rename moves a file or a directory. A file moves by one server-side
// move, replacing a file at dst. A directory moves key by key, one
// listing page at a time, so the move is not atomic (see the package doc).
// dst may be an empty directory, which the moved one replaces.
func (s *Store) Rename(ctx context.Context, src, dst string) error {
	const op = "rename"
	cs, err := s.begin(ctx, op, src)
	if err != nil {
		return err
	}
	cd, err := s.begin(ctx, op, dst)
	if err != nil {
		return err
	}
	if cs == "" || cd == "" {
		return s.pathErr(op, s.key(cs)+" -> "+s.key(cd), fmt.Errorf("the store root cannot be moved: %w", syscall.EBUSY))
	}
	si, err := s.stat(ctx, op, cs)
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
		return s.moveKey(ctx, op, s.key(cs), s.key(cd))
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
	return s.renameDir(ctx, op, s.dirKey(cs), s.dirKey(cd))
}

// moveKey moves one object on the server, replacing one at dst.
func (s *Store) moveKey(ctx context.Context, op, src, dst string) error {
	u := s.cfg.rsHost + storage.URIMove(s.cfg.bucket, src, s.cfg.bucket, dst, true)
	if err := s.manage(ctx, "move", u, nil); err != nil {
		return s.pathErr(op, src, err)
	}
	return nil
}

// renameDir moves every key under the prefix from to the prefix to.
func (s *Store) renameDir(ctx context.Context, op, from, to string) error {
	var first string
	for {
		// Each round lists from the start: the keys of the previous
		// round are gone.
		ret, err := s.listKeys(ctx, from, "", "", listPage)
		if err != nil {
			return s.pathErr(op, from, err)
		}
		if len(ret.Items) == 0 {
			return nil
		}
		if k := ret.Items[0].Key; k == first {
			return s.pathErr(op, k, fmt.Errorf("the server keeps listing a moved key: %w", syscall.EIO))
		} else {
			first = k
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(moveParallel)
		for _, it := range ret.Items {
			src := it.Key
			dst := to + strings.TrimPrefix(src, from)
			g.Go(func() error { return s.moveKey(gctx, op, src, dst) })
		}
		if err := g.Wait(); err != nil {
			return err
		}
		if ret.Marker == "" {
			return nil
		}
	}
}

// Copy copies the file src to dst on the server, replacing a file at dst;
// the data does not pass through this process. Directories are refused
// (EISDIR).
func (s *Store) Copy(ctx context.Context, src, dst string) error {
	const op = "copy"
	cs, err := s.begin(ctx, op, src)
	if err != nil {
		return err
	}
	cd, err := s.begin(ctx, op, dst)
	if err != nil {
		return err
	}
	if cs == "" || cd == "" {
		return s.pathErr(op, s.key(cs)+" -> "+s.key(cd), syscall.EISDIR)
	}
	si, err := s.stat(ctx, op, cs)
	if err != nil {
		return err
	}
	if si.IsDir() {
		return s.pathErr(op, s.key(cs), syscall.EISDIR)
	}
	if cs == cd {
		return nil
	}
	u := s.cfg.rsHost + storage.URICopy(s.cfg.bucket, s.key(cs), s.cfg.bucket, s.key(cd), true)
	if err := s.manage(ctx, "copy", u, nil); err != nil {
		return s.pathErr(op, s.key(cs), err)
	}
	return nil
}
