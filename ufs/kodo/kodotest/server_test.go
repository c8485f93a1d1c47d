package kodotest

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qiniu/go-sdk/v7/auth"
	"github.com/qiniu/go-sdk/v7/client"
	"github.com/qiniu/go-sdk/v7/storage"
)

const (
	ak = "ak"
	sk = "sk"
)

func start(t *testing.T) *Server {
	t.Helper()
	s, err := Start(ak, sk)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.CreateBucket("b")
	return s
}

// TestManagementAuth checks that stat answers a signed request and
// refuses a wrong secret, a wrong key and no signature with 401 "bad
// token", for both signing versions.
func TestManagementAuth(t *testing.T) {
	s := start(t)
	s.Put("b", "k", []byte("hello"))
	u := s.URL() + storage.URIStat("b", "k")
	tests := []struct {
		name     string
		cred     *auth.Credentials
		tok      auth.TokenType
		wantCode int
	}{
		{"qiniu v2", auth.New(ak, sk), auth.TokenQiniu, 200},
		{"qbox v1", auth.New(ak, sk), auth.TokenQBox, 200},
		{"wrong secret v2", auth.New(ak, "nope"), auth.TokenQiniu, 401},
		{"wrong secret v1", auth.New(ak, "nope"), auth.TokenQBox, 401},
		{"wrong key", auth.New("other", sk), auth.TokenQiniu, 401},
		{"no signature", nil, 0, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var info storage.FileInfo
			var err error
			if tt.cred == nil {
				err = client.DefaultClient.Call(context.Background(), &info, "POST", u, nil)
			} else {
				err = client.DefaultClient.CredentialedCall(context.Background(), tt.cred, tt.tok, &info, "POST", u, nil)
			}
			if tt.wantCode == 200 {
				if err != nil || info.Fsize != 5 || info.Hash != Etag([]byte("hello")) {
					t.Fatalf("stat: %v %+v", err, info)
				}
				return
			}
			ei, ok := err.(*client.ErrorInfo)
			if !ok || ei.Code != tt.wantCode || ei.Err != "bad token" {
				t.Fatalf("stat: %v (%T), want %d bad token", err, err, tt.wantCode)
			}
		})
	}
}

// TestUploadTokens checks form uploads under good, forged, expired and
// insert-only tokens.
func TestUploadTokens(t *testing.T) {
	s := start(t)
	up := storage.NewFormUploader(&storage.Config{})
	put := func(tok, key string) error {
		var ret storage.PutRet
		return up.Put(context.Background(), &ret, tok, key, strings.NewReader("data"), 4, &storage.PutExtra{UpHost: s.URL()})
	}
	good := (&storage.PutPolicy{Scope: "b:k"}).UploadToken(auth.New(ak, sk))
	if err := put(good, "k"); err != nil {
		t.Fatalf("upload with a good token: %v", err)
	}
	if err := put(good, "k"); err != nil {
		t.Fatalf("overwrite with a bucket:key token: %v", err)
	}
	tests := []struct {
		name, tok, key string
		code           int
	}{
		{"forged", (&storage.PutPolicy{Scope: "b:k"}).UploadToken(auth.New(ak, "bad")), "k", 401},
		{"expired", auth.New(ak, sk).SignWithData([]byte(`{"scope":"b:k","deadline":1}`)), "k", 401},
		{"other key", good, "other", 403},
		{"insert only", (&storage.PutPolicy{Scope: "b"}).UploadToken(auth.New(ak, sk)), "k", 614},
		{"no bucket", (&storage.PutPolicy{Scope: "nob:k"}).UploadToken(auth.New(ak, sk)), "k", 631},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := put(tt.tok, tt.key)
			ei, ok := err.(*client.ErrorInfo)
			if !ok || ei.Code != tt.code {
				t.Fatalf("upload: %v, want %d", err, tt.code)
			}
		})
	}
}

// TestDownload checks private URLs and ranges.
func TestDownload(t *testing.T) {
	s := start(t)
	s.Put("b", "dir/f x", []byte("0123456789"))
	mac := auth.New(ak, sk)
	deadline := time.Now().Add(time.Hour).Unix()
	get := func(u, rng string) (int, string) {
		req, _ := http.NewRequest("GET", u, nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	good := storage.MakePrivateURLv2(mac, s.DownloadHost("b"), "dir/f x", deadline)
	tests := []struct {
		name, url, rng string
		code           int
		body           string
	}{
		{"whole", good, "", 200, "0123456789"},
		{"range", good, "bytes=2-4", 206, "234"},
		{"open range", good, "bytes=7-", 206, "789"},
		{"past the end", good, "bytes=20-", 416, ""},
		{"missing", storage.MakePrivateURLv2(mac, s.DownloadHost("b"), "nope", deadline), "", 404, ""},
		{"wrong secret", storage.MakePrivateURLv2(auth.New(ak, "x"), s.DownloadHost("b"), "dir/f x", deadline), "", 401, ""},
		{"expired", storage.MakePrivateURLv2(mac, s.DownloadHost("b"), "dir/f x", 1), "", 403, ""},
		{"unsigned", s.DownloadHost("b") + "/dir/f%20x", "", 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := get(tt.url, tt.rng)
			if code != tt.code || (tt.body != "" && body != tt.body) {
				t.Fatalf("GET %s: %d %q, want %d %q", tt.rng, code, body, tt.code, tt.body)
			}
		})
	}
}

// TestFailNext checks fault injection.
func TestFailNext(t *testing.T) {
	s := start(t)
	s.FailNext(2, CodeRateLimited)
	u := s.URL() + storage.URIStat("b", "k")
	for i, want := range []int{573, 573, 612} {
		err := client.DefaultClient.CredentialedCall(context.Background(), auth.New(ak, sk), auth.TokenQiniu, nil, "POST", u, nil)
		ei, ok := err.(*client.ErrorInfo)
		if !ok || ei.Code != want {
			t.Fatalf("request %d: %v, want %d", i, err, want)
		}
	}
}
