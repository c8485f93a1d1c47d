package kodotest

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kodo's error codes and the texts it sends with them.
const (
	// CodeNoSuchKey is the answer for a missing key.
	CodeNoSuchKey = 612
	// CodeExists is the answer for a key that is already there.
	CodeExists = 614
	// CodeNoSuchBucket is the answer for an unknown bucket.
	CodeNoSuchBucket = 631
	// CodeRateLimited is Kodo's "too many requests" answer.
	CodeRateLimited = 573
)

// Server is a running Kodo server. Its methods are safe for concurrent
// use.
type Server struct {
	ak, sk string
	ln     net.Listener
	srv    *http.Server
	url    string

	mu       sync.Mutex // guards everything below
	buckets  map[string]map[string]*object
	uploads  map[string]*upload
	failLeft int
	failCode int
	loseLeft int // requests carried out whose answer is then lost (503)
	loseOnly func(*http.Request) bool
	latency  time.Duration
	requests int
}

// object is one stored key.
type object struct {
	data    []byte
	hash    string
	putTime int64 // 100 ns units, as Kodo reports it
	mime    string
}

// upload is an unfinished multipart upload (v2).
type upload struct {
	bucket, key string
	parts       map[int64][]byte
	etags       map[int64]string
}

// Start starts a server on 127.0.0.1 that accepts the key pair ak/sk.
// Close stops it.
func Start(ak, sk string) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("kodotest: listen: %w", err)
	}
	s := &Server{
		ak: ak, sk: sk, ln: ln,
		url:     "http://" + ln.Addr().String(),
		buckets: map[string]map[string]*object{},
		uploads: map[string]*upload{},
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln) // ends when Close closes the listener
	return s, nil
}

// URL is the server's address, http://127.0.0.1:port, which serves as
// up, rs, rsf, api and download host alike.
func (s *Server) URL() string { return s.url }

// DownloadHost is the download domain of a bucket on this server.
func (s *Server) DownloadHost(bucket string) string { return s.url + "/" + bucket }

// Close stops the server and drops open connections.
func (s *Server) Close() error { return s.srv.Close() }

// CreateBucket adds an empty bucket; an existing one is left as it is.
func (s *Server) CreateBucket(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets[name] == nil {
		s.buckets[name] = map[string]*object{}
	}
}

// FailNext makes the next n requests fail with the HTTP status code (for
// example 503, or 573 for Kodo's rate limit) and a JSON error body.
func (s *Server) FailNext(n, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLeft, s.failCode = n, code
}

// LoseNext carries out the next n requests but answers each with a 503,
// as when the answer of a request the server carried out is lost.
func (s *Server) LoseNext(n int) {
	s.LoseNextWhere(n, nil)
}

// LoseNextWhere is LoseNext for the requests match accepts (nil: all).
func (s *Server) LoseNextWhere(n int, match func(*http.Request) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseLeft, s.loseOnly = n, match
}

// SetLatency delays every answer by d.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Requests reports how many requests the server has received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Keys lists the keys of a bucket in order, for tests that look behind
// the store's back.
func (s *Server) Keys(bucket string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := range s.buckets[bucket] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Uploads reports how many multipart uploads are unfinished.
func (s *Server) Uploads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.uploads)
}

// Put stores an object directly, bypassing the API.
func (s *Server) Put(bucket, key string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets[bucket] == nil {
		s.buckets[bucket] = map[string]*object{}
	}
	s.buckets[bucket][key] = newObject(data, "application/octet-stream")
}

func newObject(data []byte, mime string) *object {
	if mime == "" {
		mime = "application/octet-stream"
	}
	return &object{data: data, hash: Etag(data), putTime: time.Now().UnixNano() / 100, mime: mime}
}

// apiError is an answer other than 200.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.code, e.msg) }

var (
	errBadToken    = &apiError{http.StatusUnauthorized, "bad token"}
	errNoSuchKey   = &apiError{CodeNoSuchKey, "no such file or directory"}
	errExists      = &apiError{CodeExists, "file exists"}
	errNoSuchBkt   = &apiError{CodeNoSuchBucket, "no such bucket"}
	errBadArgument = &apiError{http.StatusBadRequest, "invalid argument"}
	errNotFound    = &apiError{http.StatusNotFound, "404 page not found"}
)

// writeJSON sends v with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("X-Reqid", reqID())
	w.WriteHeader(code)
	w.Write(b)
}

// writeErr sends Kodo's JSON error body.
func writeErr(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{http.StatusBadRequest, err.Error()}
	}
	writeJSON(w, ae.code, map[string]string{"error": ae.msg})
}

func reqID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ServeHTTP routes a request to one of the APIs.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	lat := s.latency
	fail := 0
	if s.failLeft > 0 {
		s.failLeft--
		fail = s.failCode
	}
	lose := s.loseLeft > 0 && (s.loseOnly == nil || s.loseOnly(r))
	if lose {
		s.loseLeft--
	}
	s.mu.Unlock()
	if lose {
		// Carried out, its answer thrown away.
		s.serve(httptest.NewRecorder(), r, lat, fail)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "injected: the answer was lost"})
		return
	}
	s.serve(w, r, lat, fail)
}

// serve carries out one request after lat, or answers it with the
// injected failure fail.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, lat time.Duration, fail int) {
	if lat > 0 {
		select {
		case <-time.After(lat):
		case <-r.Context().Done():
			return
		}
	}
	if fail != 0 {
		io.Copy(io.Discard, r.Body)
		writeJSON(w, fail, map[string]string{"error": "injected failure: " + http.StatusText(fail)})
		return
	}
	var err error
	p := r.URL.Path
	switch {
	case r.Method == http.MethodGet && p == "/list", r.Method == http.MethodPost && p == "/list":
		err = s.list(w, r)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		err = s.download(w, r)
	case strings.HasPrefix(p, "/buckets/"):
		err = s.multipart(w, r)
	case r.Method == http.MethodPost && p == "/":
		err = s.formUpload(w, r)
	case r.Method == http.MethodPost && strings.HasPrefix(p, "/stat/"),
		r.Method == http.MethodPost && strings.HasPrefix(p, "/delete/"),
		r.Method == http.MethodPost && strings.HasPrefix(p, "/move/"),
		r.Method == http.MethodPost && strings.HasPrefix(p, "/copy/"):
		err = s.manage(w, r)
	case r.Method == http.MethodPost && p == "/batch":
		err = s.batch(w, r)
	default:
		err = errNotFound
	}
	if err != nil {
		writeErr(w, err)
	}
}

// decodeEntry decodes an EncodedEntry, base64url("bucket:key").
func decodeEntry(enc string) (bucket, key string, err error) {
	b, err := base64.URLEncoding.DecodeString(enc)
	if err != nil {
		if b, err = base64.RawURLEncoding.DecodeString(enc); err != nil {
			return "", "", errBadArgument
		}
	}
	bucket, key, _ = strings.Cut(string(b), ":")
	return bucket, key, nil
}

// bucket returns the objects of a bucket; the lock must be held.
func (s *Server) bucket(name string) (map[string]*object, error) {
	b := s.buckets[name]
	if b == nil {
		return nil, errNoSuchBkt
	}
	return b, nil
}

// manage serves stat, delete, move and copy.
func (s *Server) manage(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return errBadArgument
	}
	if err := s.checkManagement(r, body); err != nil {
		return err
	}
	ret, err := s.operate(r.URL.Path)
	if err != nil {
		return err
	}
	w.Header().Set("X-Reqid", reqID())
	if ret != nil {
		writeJSON(w, http.StatusOK, ret)
		return nil
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// batch serves rs /batch: a form of up to 1,000 op=/<operation>/<args>
// (stat, delete, move, copy), each answered in order with its code, and
// its error or stat result as data; the status is 200 when every one
// succeeded, 298 otherwise.
func (s *Server) batch(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return errBadArgument
	}
	if err := s.checkManagement(r, body); err != nil {
		return err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return errBadArgument
	}
	ops := form["op"]
	if len(ops) == 0 || len(ops) > 1000 {
		return errBadArgument
	}
	status := http.StatusOK
	out := make([]map[string]any, len(ops))
	for i, op := range ops {
		ret, err := s.operate(op)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				ae = &apiError{http.StatusBadRequest, err.Error()}
			}
			out[i] = map[string]any{"code": ae.code, "data": map[string]string{"error": ae.msg}}
			status = 298 // partial success
			continue
		}
		out[i] = map[string]any{"code": http.StatusOK}
		if ret != nil {
			out[i]["data"] = ret
		}
	}
	w.Header().Set("X-Reqid", reqID())
	writeJSON(w, status, out)
	return nil
}

// operate runs one management operation, /<operation>/<args>, and
// returns its result (stat's; nil for the others).
func (s *Server) operate(op string) (map[string]any, error) {
	parts := strings.Split(strings.TrimPrefix(op, "/"), "/")
	if len(parts) < 2 {
		return nil, errBadArgument
	}
	bucket, key, err := decodeEntry(parts[1])
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	objs, err := s.bucket(bucket)
	if err != nil {
		return nil, err
	}
	switch parts[0] {
	case "stat":
		o := objs[key]
		if o == nil {
			return nil, errNoSuchKey
		}
		return map[string]any{
			"fsize": len(o.data), "hash": o.hash, "mimeType": o.mime, "putTime": o.putTime, "type": 0, "status": 0,
		}, nil
	case "delete":
		if objs[key] == nil {
			return nil, errNoSuchKey
		}
		delete(objs, key)
	case "move", "copy":
		if len(parts) < 3 {
			return nil, errBadArgument
		}
		dbucket, dkey, err := decodeEntry(parts[2])
		if err != nil {
			return nil, err
		}
		force := len(parts) >= 5 && parts[3] == "force" && parts[4] == "true"
		dobjs, err := s.bucket(dbucket)
		if err != nil {
			return nil, err
		}
		o := objs[key]
		if o == nil {
			return nil, errNoSuchKey
		}
		if bucket == dbucket && key == dkey {
			break
		}
		if dobjs[dkey] != nil && !force {
			return nil, errExists
		}
		cp := *o
		dobjs[dkey] = &cp
		if parts[0] == "move" {
			delete(objs, key)
		}
	default:
		return nil, errNotFound
	}
	return nil, nil
}

// listItem is one object of a listing, as rsf reports it.
type listItem struct {
	Key      string `json:"key"`
	Hash     string `json:"hash"`
	Fsize    int64  `json:"fsize"`
	PutTime  int64  `json:"putTime"`
	MimeType string `json:"mimeType"`
	Type     int    `json:"type"`
	EndUser  string `json:"endUser"`
}

// listMarker is the content of rsf's opaque marker.
type listMarker struct {
	C int    `json:"c"`
	K string `json:"k"`
}

// list serves rsf /list (v1).
func (s *Server) list(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return errBadArgument
	}
	if err := s.checkManagement(r, body); err != nil {
		return err
	}
	q := r.URL.Query()
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	limit := 1000
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errBadArgument
		}
		limit = min(n, 1000)
	}
	after := ""
	if m := q.Get("marker"); m != "" {
		b, err := base64.URLEncoding.DecodeString(m)
		var lm listMarker
		if err != nil || json.Unmarshal(b, &lm) != nil {
			return &apiError{http.StatusBadRequest, "invalid marker"}
		}
		after = lm.K
	}
	s.mu.Lock()
	objs, err := s.bucket(q.Get("bucket"))
	if err != nil {
		s.mu.Unlock()
		return err
	}
	keys := make([]string, 0, len(objs))
	for k := range objs {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := struct {
		Marker         string     `json:"marker,omitempty"`
		Items          []listItem `json:"items"`
		CommonPrefixes []string   `json:"commonPrefixes,omitempty"`
	}{Items: []listItem{}}
	n, last := 0, ""
	for _, k := range keys {
		if after != "" && (k <= after || (delim != "" && strings.HasSuffix(after, delim) && strings.HasPrefix(k, after))) {
			continue
		}
		if n == limit {
			b, _ := json.Marshal(listMarker{K: last})
			out.Marker = base64.URLEncoding.EncodeToString(b)
			break
		}
		if delim != "" {
			if j := strings.Index(k[len(prefix):], delim); j >= 0 {
				cp := k[:len(prefix)+j+len(delim)]
				if cp == last {
					continue
				}
				out.CommonPrefixes = append(out.CommonPrefixes, cp)
				last = cp
				n++
				continue
			}
		}
		o := objs[k]
		out.Items = append(out.Items, listItem{Key: k, Hash: o.hash, Fsize: int64(len(o.data)), PutTime: o.putTime, MimeType: o.mime})
		last = k
		n++
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
	return nil
}

// formUpload serves the form upload POST /.
func (s *Server) formUpload(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		return &apiError{http.StatusBadRequest, "invalid multipart form"}
	}
	defer r.MultipartForm.RemoveAll()
	policy, err := s.checkUpToken(r.FormValue("token"))
	if err != nil {
		return err
	}
	f, fh, err := r.FormFile("file")
	if err != nil {
		return &apiError{http.StatusBadRequest, "file is not specified in multipart"}
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return errBadArgument
	}
	if c := r.FormValue("crc32"); c != "" {
		if want, err := strconv.ParseUint(c, 10, 32); err != nil || uint32(want) != crc32IEEE(data) {
			return &apiError{406, "crc32 not match"}
		}
	}
	key, hasKey := r.MultipartForm.Value["key"]
	if !hasKey || len(key) != 1 {
		return &apiError{http.StatusBadRequest, "key is required"}
	}
	o := newObject(data, fh.Header.Get("Content-Type"))
	if err := s.store(policy, key[0], o); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"hash": o.hash, "key": key[0]})
	return nil
}

// store saves o at key under the rules of the upload policy.
func (s *Server) store(p *putPolicy, key string, o *object) error {
	bucket, scopeKey, hasScopeKey := strings.Cut(p.Scope, ":")
	if hasScopeKey && scopeKey != key {
		return &apiError{http.StatusForbidden, "key doesn't match with scope"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	objs, err := s.bucket(bucket)
	if err != nil {
		return err
	}
	if objs[key] != nil && (!hasScopeKey || p.InsertOnly != 0) {
		return errExists
	}
	objs[key] = o
	return nil
}

// multipart serves the v2 multipart upload API under /buckets/.
func (s *Server) multipart(w http.ResponseWriter, r *http.Request) error {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "UpToken ")
	if !ok {
		return errBadToken
	}
	policy, err := s.checkUpToken(tok)
	if err != nil {
		return err
	}
	// buckets/<bucket>/objects/<encodedKey>/uploads[/<id>[/<n>]]
	el := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(el) < 5 || el[2] != "objects" || el[4] != "uploads" {
		return errNotFound
	}
	bucket := el[1]
	if pb, _, _ := strings.Cut(policy.Scope, ":"); pb != bucket {
		return &apiError{http.StatusForbidden, "bucket doesn't match with scope"}
	}
	var key string
	if el[3] != "~" {
		b, err := base64.URLEncoding.DecodeString(el[3])
		if err != nil {
			return errBadArgument
		}
		key = string(b)
	}
	switch {
	case len(el) == 5 && r.Method == http.MethodPost:
		s.mu.Lock()
		_, err := s.bucket(bucket)
		id := reqID() + reqID()
		if err == nil {
			s.uploads[id] = &upload{bucket: bucket, key: key, parts: map[int64][]byte{}, etags: map[int64]string{}}
		}
		s.mu.Unlock()
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"uploadId": id, "expireAt": time.Now().Add(7 * 24 * time.Hour).Unix()})
		return nil
	case len(el) == 7 && r.Method == http.MethodPut:
		n, err := strconv.ParseInt(el[6], 10, 64)
		if err != nil || n < 1 || n > 10000 {
			return &apiError{http.StatusBadRequest, "invalid part number"}
		}
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return errBadArgument
		}
		sum := md5.Sum(data)
		if m := r.Header.Get("Content-MD5"); m != "" && !strings.EqualFold(m, hex.EncodeToString(sum[:])) {
			return &apiError{http.StatusBadRequest, "md5 not match"}
		}
		etag := Etag(data)
		s.mu.Lock()
		u := s.uploads[el[5]]
		if u != nil && u.bucket == bucket && u.key == key {
			u.parts[n], u.etags[n] = data, etag
		}
		s.mu.Unlock()
		if u == nil || u.bucket != bucket || u.key != key {
			return &apiError{CodeNoSuchKey, "no such uploadId"}
		}
		writeJSON(w, http.StatusOK, map[string]string{"etag": etag, "md5": hex.EncodeToString(sum[:])})
		return nil
	case len(el) == 6 && r.Method == http.MethodPost:
		var body struct {
			Parts []struct {
				Etag       string `json:"etag"`
				PartNumber int64  `json:"partNumber"`
			} `json:"parts"`
			MimeType string `json:"mimeType"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.Parts) == 0 {
			return &apiError{http.StatusBadRequest, "invalid parts"}
		}
		s.mu.Lock()
		u := s.uploads[el[5]]
		s.mu.Unlock()
		if u == nil || u.bucket != bucket || u.key != key {
			return &apiError{CodeNoSuchKey, "no such uploadId"}
		}
		var buf bytes.Buffer
		prev := int64(0)
		for _, p := range body.Parts {
			if p.PartNumber <= prev {
				return &apiError{http.StatusBadRequest, "parts not in ascending order"}
			}
			prev = p.PartNumber
			s.mu.Lock()
			data, etag := u.parts[p.PartNumber], u.etags[p.PartNumber]
			s.mu.Unlock()
			if data == nil || etag != p.Etag {
				return &apiError{http.StatusBadRequest, fmt.Sprintf("part %d: etag does not match", p.PartNumber)}
			}
			buf.Write(data)
		}
		o := newObject(buf.Bytes(), body.MimeType)
		if err := s.store(policy, key, o); err != nil {
			return err
		}
		s.mu.Lock()
		delete(s.uploads, el[5])
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]string{"hash": o.hash, "key": key})
		return nil
	case len(el) == 6 && r.Method == http.MethodDelete:
		s.mu.Lock()
		u := s.uploads[el[5]]
		if u != nil {
			delete(s.uploads, el[5])
		}
		s.mu.Unlock()
		if u == nil {
			return &apiError{CodeNoSuchKey, "no such uploadId"}
		}
		writeJSON(w, http.StatusOK, map[string]string{})
		return nil
	}
	return errNotFound
}

// download serves GET and HEAD /<bucket>/<key>. A real download domain is
// bound to one bucket; this server has one address for all its buckets,
// so a store is given the download host URL()+"/"+bucket (see
// DownloadHost).
func (s *Server) download(w http.ResponseWriter, r *http.Request) error {
	if err := s.checkPrivateURL(r); err != nil {
		return err
	}
	key := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, ok := strings.Cut(key, "/")
	if !ok {
		return errNotFound
	}
	s.mu.Lock()
	var o *object
	if objs := s.buckets[bucket]; objs != nil {
		o = objs[key]
	}
	s.mu.Unlock()
	if o == nil {
		return &apiError{http.StatusNotFound, "Document not found"}
	}
	w.Header().Set("Content-Type", o.mime)
	w.Header().Set("Etag", `"`+o.hash+`"`)
	w.Header().Set("Accept-Ranges", "bytes")
	w.Header().Set("Last-Modified", time.Unix(0, o.putTime*100).UTC().Format(http.TimeFormat))
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(o.data))
	return nil
}
