package s3

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/alluxio-go/alluxio/ufs"
)

// Schemes the store registers under.
const (
	Scheme  = "s3"
	SchemeA = "s3a"
)

const (
	// listPage is how many keys one ListObjectsV2 call asks for (S3's
	// maximum).
	listPage = 1000
	// maxKeyLen is S3's limit on the length of a key in bytes.
	maxKeyLen = 1024
	// copyParallel bounds the concurrent server-side copies of a
	// directory rename.
	copyParallel = 16
	// maxCopySize is the largest object one CopyObject can copy.
	maxCopySize = 5 << 30
	// maxParts is S3's limit on the parts of a multipart upload.
	maxParts = 10000
)

func init() {
	ufs.Register(Scheme, open)
	ufs.Register(SchemeA, open)
}

// Store is an under-store over a bucket, or over the keys under a prefix of
// one. It is safe for concurrent use.
type Store struct {
	cfg       *config
	client    *s3.Client
	transport *http.Transport
	endpoint  string              // for error messages
	streaming func(o *s3.Options) // per-call option for GetObject
	copyLimit int64               // largest object copied by one CopyObject
	closed    atomic.Bool
}

var (
	_ ufs.UFS        = (*Store)(nil)
	_ ufs.Retargeter = (*writer)(nil)
)

// open is the registry factory for s3:// and s3a:// URIs. It does no
// network I/O.
func open(u *url.URL, options map[string]string) (ufs.UFS, error) {
	c, err := parseConfig(u, options)
	if err != nil {
		return nil, err
	}
	return newStore(c)
}

// Close releases idle connections. Operations after Close fail with
// EBADF.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.transport.CloseIdleConnections()
	return nil
}

// uri names the object key for errors and logs.
func (s *Store) uri(key string) string {
	if key == "" {
		return "s3://" + s.cfg.bucket
	}
	return "s3://" + s.cfg.bucket + "/" + key
}

// key returns the object key of the clean path c ("" for the root is the
// prefix itself, which is either "" or ends in "/").
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

// fileInfo describes an object as a file.
func (s *Store) fileInfo(name string, size int64, mtime *time.Time, etag *string) ufs.FileInfo {
	return ufs.FileInfo{
		Name:    name,
		Size:    size,
		Mode:    s.cfg.fileMode,
		ModTime: aws.ToTime(mtime),
		ETag:    strings.Trim(aws.ToString(etag), `"`),
	}
}

// dirInfo describes a directory; mtime is its marker's, when it has one.
func (s *Store) dirInfo(name string, mtime *time.Time) ufs.FileInfo {
	return ufs.FileInfo{Name: name, Mode: fs.ModeDir | s.cfg.dirMode, ModTime: aws.ToTime(mtime)}
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
		_, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
			Bucket: &s.cfg.bucket, Prefix: aws.String(s.cfg.prefix), MaxKeys: aws.Int32(1),
		})
		if err != nil {
			return ufs.FileInfo{}, s.pathErr(op, "", s.classify(ctx, err))
		}
		return s.dirInfo("", nil), nil
	}
	return s.stat(ctx, op, c)
}

// stat is Stat of the clean non-root path c, with errors reported as op.
func (s *Store) stat(ctx context.Context, op, c string) (ufs.FileInfo, error) {
	name := path.Base(c)
	key := s.key(c)
	h, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.bucket, Key: &key})
	if err == nil {
		return s.fileInfo(name, aws.ToInt64(h.ContentLength), h.LastModified, h.ETag), nil
	}
	if !isNotFound(err) {
		return ufs.FileInfo{}, s.pathErr(op, key, s.classify(ctx, err))
	}
	dk := s.dirKey(c)
	h, err = s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.bucket, Key: &dk})
	if err == nil {
		return s.dirInfo(name, h.LastModified), nil
	}
	if !isNotFound(err) {
		return ufs.FileInfo{}, s.pathErr(op, dk, s.classify(ctx, err))
	}
	out, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket: &s.cfg.bucket, Prefix: &dk, MaxKeys: aws.Int32(1),
	})
	if err != nil {
		return ufs.FileInfo{}, s.pathErr(op, dk, s.classify(ctx, err))
	}
	if len(out.Contents) > 0 || len(out.CommonPrefixes) > 0 {
		return s.dirInfo(name, nil), nil
	}
	return ufs.FileInfo{}, s.pathErr(op, key, syscall.ENOENT)
}

// listEntry is one name of a directory listing page: an object or a
// common prefix, by its key relative to the directory.
type listEntry struct {
	rel string // "name" for an object, "name/" for a common prefix
	obj *types.Object
}

// List calls fn for each entry of the directory dir, one ListObjectsV2
// page (1000 keys) at a time, in key order.
func (s *Store) List(ctx context.Context, dir string, fn func(ufs.FileInfo) error) error {
	const op = "list"
	c, err := s.begin(ctx, op, dir)
	if err != nil {
		return err
	}
	prefix := s.dirKey(c)
	found := c == ""
	var files []string // see pageEntries
	var token *string
	for {
		out, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
			Bucket: &s.cfg.bucket, Prefix: &prefix, Delimiter: aws.String("/"),
			MaxKeys: aws.Int32(listPage), ContinuationToken: token,
		})
		if err != nil {
			return s.pathErr(op, prefix, s.classify(ctx, err))
		}
		if len(out.Contents) > 0 || len(out.CommonPrefixes) > 0 {
			found = true
		}
		for _, fi := range s.pageEntries(prefix, out.Contents, out.CommonPrefixes, &files) {
			if err := fn(fi); err != nil {
				return err
			}
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			break
		}
		token = out.NextContinuationToken
	}
	if found {
		return nil
	}
	// Nothing under the prefix: dir is a file or is missing.
	key := s.key(c)
	_, err = s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.bucket, Key: &key})
	switch {
	case err == nil:
		return s.pathErr(op, key, syscall.ENOTDIR)
	case isNotFound(err):
		return s.pathErr(op, key, syscall.ENOENT)
	default:
		return s.pathErr(op, key, s.classify(ctx, err))
	}
}

// pageEntries turns one ListObjectsV2 page of the directory with key prefix
// prefix into entries, in key order. files carries, from page to page, the
// names of files that a common prefix of the same name may still follow:
// keys sort "a", "a-1", "a.b", "a/", so the file "a" shadows the directory
// "a" (as Stat has it) without a lookup.
func (s *Store) pageEntries(prefix string, objs []types.Object, dirs []types.CommonPrefix, files *[]string) []ufs.FileInfo {
	ents := make([]listEntry, 0, len(objs)+len(dirs))
	for i := range objs {
		ents = append(ents, listEntry{rel: strings.TrimPrefix(aws.ToString(objs[i].Key), prefix), obj: &objs[i]})
	}
	for _, cp := range dirs {
		ents = append(ents, listEntry{rel: strings.TrimPrefix(aws.ToString(cp.Prefix), prefix)})
	}
	slices.SortFunc(ents, func(a, b listEntry) int { return strings.Compare(a.rel, b.rel) })
	out := make([]ufs.FileInfo, 0, len(ents))
	for _, e := range ents {
		*files = slices.DeleteFunc(*files, func(f string) bool { return !strings.HasPrefix(e.rel, f) })
		if e.obj != nil {
			if !validName(e.rel) { // the marker itself, or a key with an odd element
				continue
			}
			out = append(out, s.fileInfo(e.rel, aws.ToInt64(e.obj.Size), e.obj.LastModified, e.obj.ETag))
			*files = append(*files, e.rel)
			continue
		}
		name := strings.TrimSuffix(e.rel, "/")
		if !validName(name) || slices.Contains(*files, name) {
			continue
		}
		out = append(out, s.dirInfo(name, nil))
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
	_, err = s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.bucket, Key: &key})
	if err == nil {
		return s.deleteKey(ctx, op, key)
	}
	if !isNotFound(err) {
		return s.pathErr(op, key, s.classify(ctx, err))
	}
	dk := s.dirKey(c)
	marker, others, err := s.dirContents(ctx, dk)
	if err != nil {
		return s.pathErr(op, dk, s.classify(ctx, err))
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
	out, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket: &s.cfg.bucket, Prefix: &dk, MaxKeys: aws.Int32(2),
	})
	if err != nil {
		return false, false, err
	}
	for _, o := range out.Contents {
		if aws.ToString(o.Key) == dk {
			marker = true
		} else {
			others = true
		}
	}
	return marker, others || len(out.CommonPrefixes) > 0, nil
}

// deleteKey deletes one object.
func (s *Store) deleteKey(ctx context.Context, op, key string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.cfg.bucket, Key: &key})
	if err != nil {
		return s.pathErr(op, key, s.classify(ctx, err))
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
	return s.putMarker(ctx, op, s.dirKey(c))
}

// putMarker writes the zero-byte object that marks a directory.
func (s *Store) putMarker(ctx context.Context, op, dk string) error {
	in := &s3.PutObjectInput{
		Bucket: &s.cfg.bucket, Key: &dk, Body: strings.NewReader(""),
		ContentLength: aws.Int64(0), ContentType: aws.String("application/x-directory"),
	}
	if s.cfg.sse {
		in.ServerSideEncryption = types.ServerSideEncryptionAes256
	}
	if _, err := s.client.PutObject(ctx, in); err != nil {
		return s.pathErr(op, dk, s.classify(ctx, err))
	}
	return nil
}

// Rename moves a file or a directory. A file moves by a server-side copy
// and a delete, replacing a file at dst. A directory moves key by key, one
// listing page at a time: the page is copied, then deleted, so the move is
// not atomic (see the package doc). dst may be an empty directory, which
// the moved one replaces.
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
		if err := s.copyObject(ctx, op, s.key(cs), s.key(cd), si.Size); err != nil {
			return err
		}
		return s.deleteKey(ctx, op, s.key(cs))
	}
	if exists {
		if !di.IsDir() {
			return s.pathErr(op, s.key(cd), syscall.ENOTDIR)
		}
		_, others, err := s.dirContents(ctx, s.dirKey(cd))
		if err != nil {
			return s.pathErr(op, s.dirKey(cd), s.classify(ctx, err))
		}
		if others {
			return s.pathErr(op, s.dirKey(cd), syscall.ENOTEMPTY)
		}
	}
	return s.renameDir(ctx, op, s.dirKey(cs), s.dirKey(cd))
}

// renameDir moves every key under the prefix from to the prefix to.
func (s *Store) renameDir(ctx context.Context, op, from, to string) error {
	var first string
	for {
		// Each round lists from the start: the keys of the previous
		// round are gone.
		out, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
			Bucket: &s.cfg.bucket, Prefix: &from, MaxKeys: aws.Int32(listPage),
		})
		if err != nil {
			return s.pathErr(op, from, s.classify(ctx, err))
		}
		if len(out.Contents) == 0 {
			return nil
		}
		if k := aws.ToString(out.Contents[0].Key); k == first {
			return s.pathErr(op, k, fmt.Errorf("the server keeps listing a deleted key: %w", syscall.EIO))
		} else {
			first = k
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(copyParallel)
		for _, o := range out.Contents {
			srcKey := aws.ToString(o.Key)
			dstKey := to + strings.TrimPrefix(srcKey, from)
			size := aws.ToInt64(o.Size)
			if size == 0 && strings.HasSuffix(srcKey, "/") {
				// A marker is written anew: copying it gains nothing, and
				// some servers keep markers as directories they cannot copy.
				g.Go(func() error { return s.putMarker(gctx, op, dstKey) })
				continue
			}
			g.Go(func() error { return s.copyObject(gctx, op, srcKey, dstKey, size) })
		}
		if err := g.Wait(); err != nil {
			return err
		}
		if err := s.deleteKeys(ctx, op, out.Contents); err != nil {
			return err
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
	}
}

// deleteKeys deletes up to 1000 objects in one request.
func (s *Store) deleteKeys(ctx context.Context, op string, objs []types.Object) error {
	ids := make([]types.ObjectIdentifier, len(objs))
	for i, o := range objs {
		ids[i] = types.ObjectIdentifier{Key: o.Key}
	}
	out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: &s.cfg.bucket, Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
	})
	if err != nil {
		return s.pathErr(op, aws.ToString(objs[0].Key), s.classify(ctx, err))
	}
	if len(out.Errors) > 0 {
		e := out.Errors[0]
		return s.pathErr(op, aws.ToString(e.Key), fmt.Errorf("delete failed: %s %s: %w",
			aws.ToString(e.Code), s.scrub(aws.ToString(e.Message)), syscall.EIO))
	}
	return nil
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
	return s.copyObject(ctx, op, s.key(cs), s.key(cd), si.Size)
}

// copyObject copies one object of the given size on the server: one
// CopyObject up to 5 GiB, a multipart copy above.
func (s *Store) copyObject(ctx context.Context, op, srcKey, dstKey string, size int64) error {
	source := copySource(s.cfg.bucket, srcKey)
	if size <= s.copyLimit {
		in := &s3.CopyObjectInput{Bucket: &s.cfg.bucket, Key: &dstKey, CopySource: &source}
		if s.cfg.sse {
			in.ServerSideEncryption = types.ServerSideEncryptionAes256
		}
		if _, err := s.client.CopyObject(ctx, in); err != nil {
			return s.pathErr(op, srcKey, s.classify(ctx, err))
		}
		return nil
	}
	partSize := max(s.cfg.partSize, (size+maxParts-1)/maxParts)
	mu, err := s.startUpload(ctx, dstKey)
	if err != nil {
		return s.pathErr(op, dstKey, err)
	}
	var parts []types.CompletedPart
	for off, n := int64(0), int32(1); off < size; off, n = off+partSize, n+1 {
		end := min(off+partSize, size) - 1
		out, err := s.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket: &s.cfg.bucket, Key: &dstKey, UploadId: mu, PartNumber: aws.Int32(n),
			CopySource: &source, CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, end)),
		})
		if err != nil {
			s.abortUpload(ctx, dstKey, mu)
			return s.pathErr(op, srcKey, s.classify(ctx, err))
		}
		parts = append(parts, types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(n)})
	}
	if _, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.cfg.bucket, Key: &dstKey, UploadId: mu,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}); err != nil {
		s.abortUpload(ctx, dstKey, mu)
		return s.pathErr(op, dstKey, s.classify(ctx, err))
	}
	return nil
}

// copySource is the x-amz-copy-source value of bucket/key: URL-escaped
// except for the slashes.
func copySource(bucket, key string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for _, c := range []byte(bucket + "/" + key) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '/':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
