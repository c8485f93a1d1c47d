package s3

import (
	"net/http"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/alluxio-go/alluxio/ufs"
	"github.com/alluxio-go/alluxio/ufs/objstore"
)

// Schemes the store registers under.
const (
	Scheme  = "s3"
	SchemeA = "s3a"
)

const (
	// listPage is how many keys one ListObjectsV2 call asks for (S3's
	// maximum, and the most one DeleteObjects takes).
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
// one: the file system of objstore over the S3 requests of objects. It is
// safe for concurrent use.
type Store struct {
	*objstore.Store // Stat, List, OpenRange, Create, ..., Copy, Close

	cfg       *config
	client    *s3.Client
	transport *http.Transport
	// copyTransport is transport without a limit on the wait for an
	// answer's headers (copying).
	copyTransport *http.Transport
	endpoint      string              // for error messages
	streaming     func(o *s3.Options) // per-call option for GetObject
	sending       func(o *s3.Options) // per-call option for PutObject and UploadPart
	// copying is the per-call option of a copy made in one request,
	// whose answer comes once the server copied every byte: no request
	// timeout, and no limit on the wait for the answer's headers (the
	// caller's context bounds it).
	copying   func(o *s3.Options)
	copyLimit int64 // largest object copied by one CopyObject
	lean      *lean // DeleteObject without the SDK's middleware; nil: through the SDK
}

var _ ufs.UFS = (*Store)(nil)

// open is the registry factory for s3:// and s3a:// URIs. It does no
// network I/O.
func open(u *url.URL, options map[string]string) (ufs.UFS, error) {
	c, err := parseConfig(u, options)
	if err != nil {
		return nil, err
	}
	return newStore(c)
}

// layout is how objstore lays the mount out and tunes it.
func (c *config) layout() objstore.Config {
	return objstore.Config{
		BucketURI:     "s3://" + c.bucket,
		Prefix:        c.prefix,
		FileMode:      c.fileMode,
		DirMode:       c.dirMode,
		MaxKeyLen:     maxKeyLen,
		ListPage:      listPage,
		Parallel:      copyParallel,
		PartSize:      c.partSize,
		PartsInFlight: c.uploads,
		MaxPartSize:   maxPartSize,
		MinPartSize:   minPartSize,
		MaxParts:      maxParts,
		ReadStall:     c.timeout,
		ReadStallKey:  keyTimeout,
		ReadResumes:   c.maxRetry,
		Scrub:         c.scrub,
		Component:     "ufs/s3",
	}
}
