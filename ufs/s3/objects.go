package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/alluxio-go/alluxio/ufs/objstore"
)

// objects is the store's bucket as objstore sees it: each method is one
// S3 request (a copy above 5 GiB is a multipart copy), its error
// classified (see classify). It is a type of its own so that the
// object-level methods stay apart from the file-level ones of Store.
type objects struct{ s *Store }

var (
	_ objstore.Client       = objects{}
	_ objstore.Multipart    = objects{}
	_ objstore.BatchDeleter = objects{}
	_ objstore.PartCopier   = objects{}
)

// directoryType is the content type of a directory marker.
const directoryType = "application/x-directory"

// maxLeanPut is the largest PutObject sent without the SDK (see lean): a
// small file's, whose request the SDK's cost is a good part of.
const maxLeanPut = 1 << 20

// etag returns an S3 ETag without its quotes.
func etag(e *string) string { return strings.Trim(aws.ToString(e), `"`) }

// HeadObject describes key with HeadObject.
func (o objects) HeadObject(ctx context.Context, key string) (objstore.Object, error) {
	s := o.s
	h, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.bucket, Key: &key})
	if err != nil {
		return objstore.Object{}, s.classify(ctx, err)
	}
	return objstore.Object{Key: key, Size: aws.ToInt64(h.ContentLength), ModTime: aws.ToTime(h.LastModified), ETag: etag(h.ETag)}, nil
}

// GetObject sends a ranged GetObject, conditional on the ETag ifMatch.
// Its body is read through a client without the overall request timeout:
// the reader in objstore catches stalls instead.
func (o objects) GetObject(ctx context.Context, key string, off, n int64, ifMatch string) (io.ReadCloser, string, error) {
	s := o.s
	in := &s3.GetObjectInput{Bucket: &s.cfg.bucket, Key: &key}
	if r := objstore.HTTPRange(off, n); r != "" {
		in.Range = aws.String(r)
	}
	if ifMatch != "" {
		// An entity tag is quoted; Object.ETag is kept without quotes.
		in.IfMatch = aws.String(quoteETag(ifMatch))
	}
	out, err := s.client.GetObject(ctx, in, s.streaming)
	if err != nil {
		if isInvalidRange(err) { // off is at or past the end
			return objstore.EmptyBody(), "", nil
		}
		if ei := inspect(err); ei.status == 412 || ei.code == "PreconditionFailed" {
			return nil, "", syscall.ESTALE
		}
		return nil, "", s.classify(ctx, err)
	}
	body := out.Body
	if out.ContentLength == nil || *out.ContentLength < 0 {
		// No Content-Length (a proxy speaking HTTP/1.0): the body's
		// end is checked against the object's.
		var start int64
		if out.ContentRange != nil {
			start = off
		}
		body = objstore.LengthChecked(body, start, aws.ToString(out.ContentRange), func() (int64, error) {
			h, err := o.HeadObject(ctx, key)
			return h.Size, err
		})
	}
	if in.Range != nil && out.ContentRange == nil {
		// A 200 with the whole object, from a gateway that ignores
		// Range: read from off as if it had not.
		body, err := objstore.WholeBody(body, off, n)
		if err != nil {
			return nil, "", s.classify(ctx, err)
		}
		return body, aws.ToString(out.ETag), nil
	}
	return body, aws.ToString(out.ETag), nil
}

// ListObjects reads one ListObjectsV2 page.
func (o objects) ListObjects(ctx context.Context, prefix, delimiter, token string, limit int) (objstore.Page, error) {
	s := o.s
	in := &s3.ListObjectsV2Input{Bucket: &s.cfg.bucket, Prefix: &prefix, MaxKeys: aws.Int32(int32(limit))}
	if delimiter != "" {
		in.Delimiter = &delimiter
	}
	if token != "" {
		in.ContinuationToken = &token
	}
	out, err := s.client.ListObjectsV2(ctx, in)
	if err != nil {
		return objstore.Page{}, s.classify(ctx, err)
	}
	pg := objstore.Page{Objects: make([]objstore.Object, len(out.Contents))}
	for i, c := range out.Contents {
		pg.Objects[i] = objstore.Object{Key: aws.ToString(c.Key), Size: aws.ToInt64(c.Size), ModTime: aws.ToTime(c.LastModified), ETag: etag(c.ETag)}
	}
	for _, cp := range out.CommonPrefixes {
		pg.Prefixes = append(pg.Prefixes, aws.ToString(cp.Prefix))
	}
	if aws.ToBool(out.IsTruncated) && out.NextContinuationToken != nil {
		pg.Next = *out.NextContinuationToken
	}
	return pg, nil
}

// PutObject writes data as key; a directory marker gets the content type
// application/x-directory, as Alluxio's are.
func (o objects) PutObject(ctx context.Context, key string, data []byte) (string, error) {
	s := o.s
	marker := len(data) == 0 && strings.HasSuffix(key, "/")
	if s.lean != nil && len(data) <= maxLeanPut {
		h := http.Header{}
		if marker {
			h.Set("Content-Type", directoryType)
		}
		if s.cfg.sse {
			h.Set("X-Amz-Server-Side-Encryption", string(types.ServerSideEncryptionAes256))
		}
		tag, err := s.lean.putObject(ctx, key, data, h)
		return tag, s.classify(ctx, err)
	}
	in := &s3.PutObjectInput{
		Bucket: &s.cfg.bucket, Key: &key,
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
	}
	if marker {
		in.ContentType = aws.String(directoryType)
	}
	if s.cfg.sse {
		in.ServerSideEncryption = types.ServerSideEncryptionAes256
	}
	out, err := s.client.PutObject(ctx, in, s.sending)
	if err != nil {
		return "", s.classify(ctx, err)
	}
	return etag(out.ETag), nil
}

// CopyObject copies one object of the given size on the server: one
// CopyObject up to 5 GiB, a multipart copy above.
func (o objects) CopyObject(ctx context.Context, src, dst string, size int64) error {
	s := o.s
	source := copySource(s.cfg.bucket, src)
	if size <= s.copyLimit {
		in := &s3.CopyObjectInput{Bucket: &s.cfg.bucket, Key: &dst, CopySource: &source}
		if s.cfg.sse {
			in.ServerSideEncryption = types.ServerSideEncryptionAes256
		}
		// A copy of up to 5 GiB is one request, whose answer comes
		// when the server has copied every byte: it gets time for them,
		// not the request timeout of others.
		cctx, cancel := s.copyDeadline(ctx, size)
		defer cancel()
		if _, err := s.client.CopyObject(cctx, in, s.copying); err != nil {
			return s.classify(ctx, err)
		}
		return nil
	}
	partSize := max(s.cfg.partSize, (size+maxParts-1)/maxParts)
	id, err := o.CreateUpload(ctx, dst)
	if err != nil {
		return &objstore.KeyError{Key: dst, Err: err}
	}
	var parts []types.CompletedPart
	for off, n := int64(0), int32(1); off < size; off, n = off+partSize, n+1 {
		end := min(off+partSize, size) - 1
		cctx, cancel := s.copyDeadline(ctx, end+1-off)
		out, err := s.client.UploadPartCopy(cctx, &s3.UploadPartCopyInput{
			Bucket: &s.cfg.bucket, Key: &dst, UploadId: &id, PartNumber: aws.Int32(n),
			CopySource: &source, CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, end)),
		}, s.copying)
		cancel()
		if err != nil {
			o.abortCopy(ctx, dst, id)
			return s.classify(ctx, err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(n)})
	}
	if _, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.cfg.bucket, Key: &dst, UploadId: &id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}); err != nil {
		o.abortCopy(ctx, dst, id)
		return &objstore.KeyError{Key: dst, Err: s.classify(ctx, err)}
	}
	return nil
}

// abortCopy aborts the upload of a failed multipart copy, even when ctx
// has ended. A failure is logged: the parts stay until a lifecycle rule
// removes them, and the copy's own error is what the caller hears.
func (o objects) abortCopy(ctx context.Context, key, id string) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := o.AbortUpload(actx, key, id); err != nil {
		slog.Warn("cannot abort a multipart copy; its parts stay until a lifecycle rule removes them",
			"component", "ufs/s3", "object", "s3://"+o.s.cfg.bucket+"/"+key, "err", err.Error())
	}
}

// DeleteObject deletes one object.
func (o objects) DeleteObject(ctx context.Context, key string) error {
	s := o.s
	if s.lean != nil {
		return s.classify(ctx, s.lean.deleteObject(ctx, key))
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.cfg.bucket, Key: &key}); err != nil {
		return s.classify(ctx, err)
	}
	return nil
}

// DeleteObjects deletes up to 1000 objects in one request.
func (o objects) DeleteObjects(ctx context.Context, keys []string) error {
	s := o.s
	ids := make([]types.ObjectIdentifier, len(keys))
	for i := range keys {
		ids[i] = types.ObjectIdentifier{Key: &keys[i]}
	}
	out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: &s.cfg.bucket, Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
	})
	if err != nil {
		return s.classify(ctx, err)
	}
	if len(out.Errors) > 0 {
		e := out.Errors[0]
		return &objstore.KeyError{Key: aws.ToString(e.Key), Err: fmt.Errorf("delete failed: %s %s: %w",
			aws.ToString(e.Code), s.cfg.scrub(aws.ToString(e.Message)), syscall.EIO)}
	}
	return nil
}

// CreateUpload starts a multipart upload of key.
func (o objects) CreateUpload(ctx context.Context, key string) (string, error) {
	s := o.s
	in := &s3.CreateMultipartUploadInput{Bucket: &s.cfg.bucket, Key: &key}
	if s.cfg.sse {
		in.ServerSideEncryption = types.ServerSideEncryptionAes256
	}
	out, err := s.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return "", s.classify(ctx, err)
	}
	return aws.ToString(out.UploadId), nil
}

// UploadPart uploads one part.
func (o objects) UploadPart(ctx context.Context, key, id string, number int, data []byte) (objstore.Part, error) {
	s := o.s
	out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: &s.cfg.bucket, Key: &key, UploadId: &id, PartNumber: aws.Int32(int32(number)),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
	}, s.sending)
	if err != nil {
		return objstore.Part{}, s.classify(ctx, err)
	}
	return objstore.Part{Number: number, ETag: aws.ToString(out.ETag)}, nil
}

// CopyPart makes a part of the bytes [off, off+n) of the object src, on
// condition that its ETag is still ifMatch (UploadPartCopy).
func (o objects) CopyPart(ctx context.Context, key, id string, number int, src string, off, n int64, ifMatch string) (objstore.Part, error) {
	s := o.s
	source := copySource(s.cfg.bucket, src)
	// The answer comes once the part is copied (as for CopyObject).
	cctx, cancel := s.copyDeadline(ctx, n)
	defer cancel()
	out, err := s.client.UploadPartCopy(cctx, &s3.UploadPartCopyInput{
		Bucket: &s.cfg.bucket, Key: &key, UploadId: &id, PartNumber: aws.Int32(int32(number)),
		CopySource: &source, CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1)),
		CopySourceIfMatch: aws.String(quoteETag(ifMatch)),
	}, s.copying)
	if err != nil {
		if ei := inspect(err); ei.status == 412 || ei.code == "PreconditionFailed" {
			return objstore.Part{}, syscall.ESTALE
		}
		return objstore.Part{}, s.classify(ctx, err)
	}
	if out.CopyPartResult == nil || aws.ToString(out.CopyPartResult.ETag) == "" {
		return objstore.Part{}, fmt.Errorf("copy of part %d from %s: no ETag in the answer: %w", number, src, syscall.EIO)
	}
	return objstore.Part{Number: number, ETag: aws.ToString(out.CopyPartResult.ETag)}, nil
}

// quoteETag returns an entity tag as HTTP conditions take it: quoted.
func quoteETag(e string) string {
	if strings.HasPrefix(e, `"`) || strings.HasPrefix(e, "W/") {
		return e
	}
	return `"` + e + `"`
}

// copyRate is the least rate at which a server is expected to copy an
// object on its side.
const copyRate = 16 << 20 // bytes a second

// copyDeadline bounds a copy of size bytes made in one request: the
// request timeout, and a second for each copyRate bytes (none without a
// request timeout).
func (s *Store) copyDeadline(ctx context.Context, size int64) (context.Context, context.CancelFunc) {
	if s.cfg.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.cfg.timeout+time.Duration(size/copyRate)*time.Second)
}

// CompleteUpload completes a multipart upload.
func (o objects) CompleteUpload(ctx context.Context, key, id string, parts []objstore.Part) (string, error) {
	s := o.s
	cp := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		cp[i] = types.CompletedPart{ETag: aws.String(p.ETag), PartNumber: aws.Int32(int32(p.Number))}
	}
	out, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.cfg.bucket, Key: &key, UploadId: &id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: cp},
	})
	if err != nil && inspect(err).code == codeNoSuchUpload {
		// A completion tried again after one whose answer was lost
		// finds the upload gone: made, when the key holds the object
		// these parts make.
		if want, ok := multipartETag(parts); ok {
			if head, herr := o.HeadObject(ctx, key); herr == nil && head.ETag == want {
				return want, nil
			}
		}
	}
	if err != nil {
		return "", s.classify(ctx, err)
	}
	return etag(out.ETag), nil
}

// multipartETag is the ETag S3 gives the object that parts make: the MD5
// of their MD5s, a dash and their count. ok is false when a part's ETag
// is not an MD5 (encrypted with a KMS key, say).
func multipartETag(parts []objstore.Part) (string, bool) {
	sums := md5.New()
	for _, p := range parts {
		b, err := hex.DecodeString(strings.Trim(p.ETag, `"`))
		if err != nil || len(b) != md5.Size {
			return "", false
		}
		sums.Write(b)
	}
	return hex.EncodeToString(sums.Sum(nil)) + "-" + strconv.Itoa(len(parts)), true
}

// AbortUpload aborts a multipart upload; one the server no longer knows
// is gone already.
func (o objects) AbortUpload(ctx context.Context, key, id string) error {
	s := o.s
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: &s.cfg.bucket, Key: &key, UploadId: &id,
	})
	if err == nil || inspect(err).code == codeNoSuchUpload {
		return nil
	}
	return s.classify(ctx, err)
}

// Close drops the idle connections.
func (o objects) Close() error {
	o.s.transport.CloseIdleConnections()
	o.s.copyTransport.CloseIdleConnections()
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
