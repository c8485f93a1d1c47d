package kodotest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/textproto"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Content types whose bodies are part of a management signature.
const (
	ctForm = "application/x-www-form-urlencoded"
	ctJSON = "application/json"
)

// sign is Qiniu's signature: base64url(HMAC-SHA1(secret, data)).
func (s *Server) sign(data []byte) string {
	h := hmac.New(sha1.New, []byte(s.sk))
	h.Write(data)
	return base64.URLEncoding.EncodeToString(h.Sum(nil))
}

// checkToken checks "<ak>:<sign>" against data.
func (s *Server) checkToken(token string, data []byte) error {
	ak, sig, ok := strings.Cut(token, ":")
	if !ok || ak != s.ak || !hmac.Equal([]byte(sig), []byte(s.sign(data))) {
		return errBadToken
	}
	return nil
}

// checkManagement verifies the Authorization header of a management
// request: "Qiniu" (v2) or "QBox" (v1) signing.
func (s *Server) checkManagement(r *http.Request, body []byte) error {
	a := r.Header.Get("Authorization")
	pathQuery := r.URL.Path
	if r.URL.RawQuery != "" {
		pathQuery += "?" + r.URL.RawQuery
	}
	ct := r.Header.Get("Content-Type")
	if tok, ok := strings.CutPrefix(a, "Qiniu "); ok {
		var b bytes.Buffer
		fmt.Fprintf(&b, "%s %s\nHost: %s\n", r.Method, pathQuery, r.Host)
		if ct == "" {
			ct = ctForm
		}
		fmt.Fprintf(&b, "Content-Type: %s\n", ct)
		var xq []string
		for name, vals := range r.Header {
			if len(name) > len("X-Qiniu-") && strings.HasPrefix(name, "X-Qiniu-") {
				for _, v := range vals {
					xq = append(xq, textproto.CanonicalMIMEHeaderKey(name)+": "+v)
				}
			}
		}
		sort.Strings(xq)
		for _, h := range xq {
			b.WriteString(h + "\n")
		}
		b.WriteString("\n")
		if len(body) > 0 && (ct == ctForm || ct == ctJSON) {
			b.Write(body)
		}
		return s.checkToken(tok, b.Bytes())
	}
	if tok, ok := strings.CutPrefix(a, "QBox "); ok {
		data := []byte(pathQuery + "\n")
		if len(body) > 0 && ct == ctForm {
			data = append(data, body...)
		}
		return s.checkToken(tok, data)
	}
	return errBadToken
}

// putPolicy is the part of an upload policy the server honours.
type putPolicy struct {
	Scope      string `json:"scope"`
	Deadline   int64  `json:"deadline"`
	InsertOnly int    `json:"insertOnly"`
}

// checkUpToken verifies an upload token "<ak>:<sign>:<base64(policy)>"
// and returns its policy.
func (s *Server) checkUpToken(tok string) (*putPolicy, error) {
	el := strings.Split(tok, ":")
	if len(el) != 3 {
		return nil, errBadToken
	}
	if err := s.checkToken(el[0]+":"+el[1], []byte(el[2])); err != nil {
		return nil, err
	}
	raw, err := base64.URLEncoding.DecodeString(el[2])
	if err != nil {
		return nil, errBadToken
	}
	var p putPolicy
	if json.Unmarshal(raw, &p) != nil || p.Scope == "" {
		return nil, errBadToken
	}
	if p.Deadline < time.Now().Unix() {
		return nil, &apiError{http.StatusUnauthorized, "token out of date"}
	}
	return &p, nil
}

// checkPrivateURL verifies a private download URL: the token signs the
// URL up to and including its "e=<deadline>" parameter.
func (s *Server) checkPrivateURL(r *http.Request) error {
	uri := r.RequestURI
	i := strings.LastIndex(uri, "&token=")
	if i < 0 {
		return &apiError{http.StatusUnauthorized, "download token not specified"}
	}
	signed, token := uri[:i], uri[i+len("&token="):]
	if err := s.checkToken(token, []byte("http://"+r.Host+signed)); err != nil {
		return err
	}
	e, err := strconv.ParseInt(r.URL.Query().Get("e"), 10, 64)
	if err != nil || e < time.Now().Unix() {
		return &apiError{http.StatusForbidden, "token out of date"}
	}
	return nil
}

// crc32IEEE is the checksum of a form upload's crc32 field.
func crc32IEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

// Etag is Qiniu's qetag of data: for up to 4 MiB, 0x16 followed by the
// SHA-1 of the data; above, 0x96 followed by the SHA-1 of the SHA-1s of
// its 4 MiB blocks; base64url encoded.
func Etag(data []byte) string {
	const block = 4 << 20
	if len(data) <= block {
		sum := sha1.Sum(data)
		return base64.URLEncoding.EncodeToString(append([]byte{0x16}, sum[:]...))
	}
	h := sha1.New()
	for off := 0; off < len(data); off += block {
		sum := sha1.Sum(data[off:min(off+block, len(data))])
		h.Write(sum[:])
	}
	return base64.URLEncoding.EncodeToString(append([]byte{0x96}, h.Sum(nil)...))
}
