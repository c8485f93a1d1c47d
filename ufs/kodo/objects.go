package kodo

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/qiniu/go-sdk/v7/auth"
	"github.com/qiniu/go-sdk/v7/storage"

	"github.com/alluxio-go/alluxio/ufs/objstore"
)

// urlLifetime is how long a signed download URL stays valid.
const urlLifetime = time.Hour

// objects is the store's bucket as objstore sees it: each method is one
// Kodo request, retried (see Store.retry) and its error classified. It is
// a type of its own so that the object-level methods stay apart from the
// file-level ones of Store.
type objects struct{ s *Store }

var (
	_ objstore.Client       = objects{}
	_ objstore.Multipart    = objects{}
	_ objstore.Mover        = objects{}
	_ objstore.BatchDeleter = objects{}
)

// putTime converts Kodo's putTime (100 ns units) to a time, zero for 0.
func putTime(t int64) time.Time {
	if t <= 0 {
		return time.Time{}
	}
	return time.Unix(0, t*100)
}

// HeadObject asks rs /stat for key.
func (o objects) HeadObject(ctx context.Context, key string) (objstore.Object, error) {
	s := o.s
	var info storage.FileInfo
	if err := s.manage(ctx, "stat", s.cfg.rsHost+storage.URIStat(s.cfg.bucket, key), &info); err != nil {
		return objstore.Object{}, err
	}
	return objstore.Object{Key: key, Size: info.Fsize, ModTime: putTime(info.PutTime), ETag: info.Hash}, nil
}

// listRet is rsf's answer to /list.
type listRet struct {
	Marker         string             `json:"marker"`
	Items          []storage.ListItem `json:"items"`
	CommonPrefixes []string           `json:"commonPrefixes"`
}

// ListObjects reads one rsf /list page; the token is rsf's marker.
func (o objects) ListObjects(ctx context.Context, prefix, delimiter, token string, limit int) (objstore.Page, error) {
	s := o.s
	q := url.Values{}
	q.Set("bucket", s.cfg.bucket)
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	if delimiter != "" {
		q.Set("delimiter", delimiter)
	}
	if token != "" {
		q.Set("marker", token)
	}
	q.Set("limit", strconv.Itoa(limit))
	var ret listRet
	if err := s.manage(ctx, "list", s.cfg.rsfHost+"/list?"+q.Encode(), &ret); err != nil {
		return objstore.Page{}, err
	}
	pg := objstore.Page{Objects: make([]objstore.Object, len(ret.Items)), Prefixes: ret.CommonPrefixes, Next: ret.Marker}
	for i, it := range ret.Items {
		pg.Objects[i] = objstore.Object{Key: it.Key, Size: it.Fsize, ModTime: putTime(it.PutTime), ETag: it.Hash}
	}
	return pg, nil
}

// GetObject sends a ranged GET to a signed private download URL of the
// download host, retried like any request until an answer starts, with
// If-Match when resuming. A download host that ignores If-Match is caught
// by comparing the answer's ETag, or the hash rs reports when the answer
// has none.
func (o objects) GetObject(ctx context.Context, key string, off, n int64, ifMatch string) (io.ReadCloser, string, error) {
	s := o.s
	var body io.ReadCloser
	var etag string
	err := s.retry(ctx, "download", func(context.Context) error {
		// The caller's context, not the attempt's, bounds the body's life.
		b, e, err := s.get(ctx, key, off, n, ifMatch)
		body, etag = b, e
		return err
	})
	if err != nil {
		return nil, "", err
	}
	if ifMatch != "" {
		got := strings.Trim(etag, `"`)
		if got == "" { // an answer without an ETag (a 416 may have none): ask rs
			h, err := o.HeadObject(ctx, key)
			if err != nil && !errors.Is(err, syscall.ENOENT) {
				body.Close()
				return nil, "", err
			}
			got = h.ETag
		}
		if got != strings.Trim(ifMatch, `"`) {
			body.Close()
			return nil, "", syscall.ESTALE
		}
	}
	return body, etag, nil
}

// get sends one ranged GET and returns the body of a 200 or 206 answer,
// or an empty body for 416 (off at or past the end), with the answer's
// ETag; else an *httpError.
func (s *Store) get(ctx context.Context, key string, off, n int64, ifMatch string) (io.ReadCloser, string, error) {
	deadline := time.Now().Add(urlLifetime).Unix()
	u := storage.MakePrivateURLv2(s.mac, s.cfg.downloadHost, key, deadline)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", fmt.Errorf("bad download URL for %s: %w", s.cfg.downloadHost, syscall.EINVAL)
	}
	if r := objstore.HTTPRange(off, n); r != "" {
		req.Header.Set("Range", r)
	}
	if ifMatch != "" {
		// An entity tag, quoted as HTTP has it (RFC 9110, 8.8.3); the
		// hash alone is not one, and a server that checks the header
		// would refuse every read with 412.
		req.Header.Set("If-Match", `"`+strings.Trim(ifMatch, `"`)+`"`)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, "", err
	}
	etag := resp.Header.Get("Etag")
	switch resp.StatusCode {
	case http.StatusOK, http.StatusPartialContent:
		body := s.checkLength(ctx, resp, key, off)
		if resp.StatusCode == http.StatusOK && (off > 0 || n > 0) {
			// A server that ignores Range: skip to off.
			body, err := objstore.WholeBody(body, off, n)
			if err != nil {
				return nil, "", err
			}
			return body, etag, nil
		}
		return body, etag, nil
	case http.StatusRequestedRangeNotSatisfiable:
		// The ETag still tells a resumed read whether the object is the
		// one it started: a shorter new one also answers 416.
		resp.Body.Close()
		return objstore.EmptyBody(), etag, nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return nil, "", &httpError{code: resp.StatusCode, msg: string(msg)}
}

// checkLength returns the body of a 200 or 206 answer to a GET of key
// asked from off, checked against its length when it has no
// Content-Length (objstore.LengthChecked), as from a bound domain or an
// HTTP/1.0 proxy in front of the download host; rs gives the object's
// size.
func (s *Store) checkLength(ctx context.Context, resp *http.Response, key string, off int64) io.ReadCloser {
	if resp.ContentLength >= 0 {
		return resp.Body
	}
	var start int64
	if resp.StatusCode == http.StatusPartialContent {
		start = off
	}
	return objstore.LengthChecked(resp.Body, start, resp.Header.Get("Content-Range"), func() (int64, error) {
		o, err := objects{s}.HeadObject(ctx, key)
		return o.Size, err
	})
}

// PutObject sends data as key in one form upload, replacing what is
// there, and returns its hash.
func (o objects) PutObject(ctx context.Context, key string, data []byte) (string, error) {
	s := o.s
	token := s.upToken(key)
	var ret storage.PutRet
	err := s.retry(ctx, "form upload", func(ctx context.Context) error {
		return s.form.Put(ctx, &ret, token, key, bytes.NewReader(data), int64(len(data)),
			&storage.PutExtra{UpHost: s.cfg.upHost})
	})
	return ret.Hash, err
}

// CopyObject copies src to dst with rs /copy, replacing what is at dst.
func (o objects) CopyObject(ctx context.Context, src, dst string, _ int64) error {
	s := o.s
	return s.manage(ctx, "copy", s.cfg.rsHost+storage.URICopy(s.cfg.bucket, src, s.cfg.bucket, dst, true), nil)
}

// MoveObject moves src to dst with rs /move, replacing what is at dst. A
// move tried again after an attempt whose answer was lost (a timeout, a
// server error) finds src gone when that attempt moved it: with src gone
// and dst there, the move was made.
func (o objects) MoveObject(ctx context.Context, src, dst string) error {
	s := o.s
	attempts := 0
	err := s.retry(ctx, "move", func(ctx context.Context) error {
		attempts++
		return s.client.CredentialedCall(ctx, s.mac, auth.TokenQiniu, nil, http.MethodPost,
			s.cfg.rsHost+storage.URIMove(s.cfg.bucket, src, s.cfg.bucket, dst, true), nil)
	})
	if attempts > 1 && errors.Is(err, syscall.ENOENT) {
		if _, serr := o.HeadObject(ctx, src); errors.Is(serr, syscall.ENOENT) {
			if _, derr := o.HeadObject(ctx, dst); derr == nil {
				return nil
			}
		}
	}
	return err
}

// DeleteObject deletes key with rs /delete. A key already gone is not an
// error, as with S3.
func (o objects) DeleteObject(ctx context.Context, key string) error {
	s := o.s
	u := s.cfg.rsHost + storage.URIDelete(s.cfg.bucket, key)
	return s.retry(ctx, "delete", func(ctx context.Context) error {
		err := s.client.CredentialedCall(ctx, s.mac, auth.TokenQiniu, nil, http.MethodPost, u, nil)
		if code, _ := status(err); code == codeNoSuchKey {
			// Gone already, or by an attempt whose answer was lost.
			return nil
		}
		return err
	})
}

// DeleteObjects deletes keys (at most 1,000) with one rs /batch of
// deletes (objstore.BatchDeleter). A key already gone is not an error.
func (o objects) DeleteObjects(ctx context.Context, keys []string) error {
	s := o.s
	ops := make([]string, len(keys))
	for i, k := range keys {
		ops[i] = storage.URIDelete(s.cfg.bucket, k)
	}
	var rets []storage.BatchOpRet
	err := s.retry(ctx, "batch delete", func(ctx context.Context) error {
		rets = nil
		return s.client.CredentialedCallWithForm(ctx, s.mac, auth.TokenQiniu, &rets, http.MethodPost,
			s.cfg.rsHost+"/batch", nil, map[string][]string{"op": ops})
	})
	if err != nil {
		return err
	}
	if len(rets) != len(keys) {
		return fmt.Errorf("batch delete: %d answers for %d keys: %w", len(rets), len(keys), syscall.EIO)
	}
	for i, r := range rets {
		if r.Code != http.StatusOK && r.Code != codeNoSuchKey {
			return &objstore.KeyError{Key: keys[i], Err: fmt.Errorf("delete failed: %d %s: %w",
				r.Code, s.cfg.scrub(r.Data.Error), syscall.EIO)}
		}
	}
	return nil
}

// CreateUpload initiates a v2 multipart upload of key.
func (o objects) CreateUpload(ctx context.Context, key string) (string, error) {
	s := o.s
	token := s.upToken(key)
	var ret storage.InitPartsRet
	err := s.retry(ctx, "initiate multipart upload", func(ctx context.Context) error {
		return s.resumable.InitParts(ctx, token, s.cfg.upHost, s.cfg.bucket, key, true, &ret)
	})
	return ret.UploadID, err
}

// UploadPart uploads one part with its Content-MD5.
func (o objects) UploadPart(ctx context.Context, key, id string, number int, data []byte) (objstore.Part, error) {
	s := o.s
	token := s.upToken(key)
	sum := md5.Sum(data)
	var ret storage.UploadPartsRet
	err := s.retry(ctx, "upload part", func(ctx context.Context) error {
		return s.resumable.UploadParts(ctx, token, s.cfg.upHost, s.cfg.bucket, key, true, id,
			int64(number), hex.EncodeToString(sum[:]), &ret, bytes.NewReader(data), len(data))
	})
	return objstore.Part{Number: number, ETag: ret.Etag}, err
}

// CompleteUpload completes a v2 multipart upload and returns the hash. A
// completion tried again after an attempt whose answer was lost finds the
// upload gone (612) when that attempt made it: with the key holding an
// object of the parts' length, put since the upload began, it was made.
func (o objects) CompleteUpload(ctx context.Context, key, id string, parts []objstore.Part) (string, error) {
	s := o.s
	token := s.upToken(key)
	infos := make([]storage.UploadPartInfo, len(parts))
	var size int64
	for i, p := range parts {
		infos[i] = storage.UploadPartInfo{Etag: p.ETag, PartNumber: int64(p.Number)}
		size += p.Size
	}
	var ret storage.PutRet
	attempts, began := 0, time.Now()
	err := s.retry(ctx, "complete multipart upload", func(ctx context.Context) error {
		attempts++
		return s.resumable.CompleteParts(ctx, token, s.cfg.upHost, &ret, s.cfg.bucket, key, true, id,
			&storage.RputV2Extra{Progresses: infos})
	})
	if attempts > 1 && errors.Is(err, syscall.ENOENT) {
		if head, herr := o.HeadObject(ctx, key); herr == nil && head.Size == size && !head.ModTime.Before(began.Add(-clockSlack)) {
			return head.ETag, nil
		}
	}
	return ret.Hash, err
}

// clockSlack is how far the server's clock may be behind this one for
// CompleteUpload's check of when an object was put.
const clockSlack = time.Minute

// AbortUpload deletes a multipart upload (DELETE
// /buckets/<bucket>/objects/<key>/uploads/<id>, which the SDK does not
// wrap). Kodo drops unfinished uploads when they expire.
func (o objects) AbortUpload(ctx context.Context, key, id string) error {
	s := o.s
	token := s.upToken(key)
	u := s.cfg.upHost + "/buckets/" + s.cfg.bucket + "/objects/" +
		base64.URLEncoding.EncodeToString([]byte(key)) + "/uploads/" + id
	return s.retry(ctx, "abort multipart upload", func(ctx context.Context) error {
		h := http.Header{}
		h.Set("Authorization", "UpToken "+token)
		return s.client.CallWith(ctx, nil, http.MethodDelete, u, h, nil, 0)
	})
}

// Close drops the idle connections.
func (o objects) Close() error {
	o.s.transport.CloseIdleConnections()
	return nil
}
