// Command s3raw is the S3 side of the S3 benchmark (tests/bench/s3/run.sh):
// it fills a bucket and measures the raw baseline of a cold read, reading
// an object with aws-sdk-go-v2 by parallel ranged GETs, as a tuned client
// with no file system in the way would.
//
//	s3raw [flags] mkbucket
//	s3raw [flags] put KEY MIB      an object of MIB MiB of random bytes (multipart)
//	s3raw [flags] putmany PREFIX N N small objects PREFIX00000..., in parallel
//	s3raw [flags] read KEY         best GB/s of -runs parallel ranged reads
//
// Flags: -endpoint, -bucket, -parallel, -chunk, -runs. The credentials come
// from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, never from the command
// line.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func main() {
	endpoint := flag.String("endpoint", "", "S3 endpoint, http://host:port")
	bucket := flag.String("bucket", "bench", "bucket")
	parallel := flag.Int("parallel", 16, "concurrent requests")
	chunkMiB := flag.Int64("chunk", 8, "MiB per ranged GET or uploaded part")
	runs := flag.Int("runs", 3, "read runs; the best is printed")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("s3raw: ")
	if *endpoint == "" || flag.NArg() < 1 {
		log.Fatal("usage: s3raw -endpoint URL [-bucket B] mkbucket|put KEY MIB|putmany PREFIX N|read KEY")
	}
	b := &bench{
		client: s3.New(s3.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String(*endpoint),
			UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(
				os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), ""),
			HTTPClient: &http.Client{Transport: &http.Transport{
				MaxIdleConnsPerHost: *parallel * 2,
				Proxy:               nil,
			}},
			RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
			ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		}),
		bucket:   *bucket,
		parallel: *parallel,
		chunk:    *chunkMiB << 20,
	}
	ctx := context.Background()
	args := flag.Args()
	arg := func(i int) string {
		if len(args) <= i {
			log.Fatalf("%s: missing argument %d", args[0], i)
		}
		return args[i]
	}
	num := func(i int) int64 {
		n, err := strconv.ParseInt(arg(i), 10, 64)
		if err != nil || n < 0 {
			log.Fatalf("%s: argument %d: want a number, got %q", args[0], i, arg(i))
		}
		return n
	}
	var err error
	switch args[0] {
	case "mkbucket":
		_, err = b.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b.bucket)})
	case "put":
		err = b.put(ctx, arg(1), num(2)<<20)
	case "putmany":
		err = b.putMany(ctx, arg(1), int(num(2)))
	case "read":
		best := 0.0
		for range *runs {
			gbps, rerr := b.read(ctx, arg(1))
			if rerr != nil {
				log.Fatal(rerr)
			}
			best = max(best, gbps)
		}
		fmt.Printf("%.3f\n", best)
	default:
		log.Fatalf("unknown command %q", args[0])
	}
	if err != nil {
		log.Fatalf("%s: %v", args[0], err)
	}
}

// bench holds the client and the settings of one invocation.
type bench struct {
	client   *s3.Client
	bucket   string
	parallel int
	chunk    int64
}

// put uploads size random bytes as key in a multipart upload of parallel
// parts.
func (b *bench) put(ctx context.Context, key string, size int64) error {
	up, err := b.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b.bucket, Key: &key})
	if err != nil {
		return err
	}
	n := int((size + b.chunk - 1) / b.chunk)
	parts := make([]types.CompletedPart, n)
	err = b.each(n, func(i int) error {
		data := make([]byte, min(b.chunk, size-int64(i)*b.chunk))
		rand.Read(data)
		out, err := b.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b.bucket, Key: &key, UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(data)})
		if err != nil {
			return fmt.Errorf("part %d: %w", i+1, err)
		}
		parts[i] = types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))}
		return nil
	})
	if err != nil {
		b.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &b.bucket, Key: &key, UploadId: up.UploadId})
		return err
	}
	_, err = b.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &b.bucket, Key: &key,
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	return err
}

// putMany puts n small objects named prefix plus a number.
func (b *bench) putMany(ctx context.Context, prefix string, n int) error {
	return b.each(n, func(i int) error {
		key := fmt.Sprintf("%s%05d", prefix, i)
		_, err := b.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &b.bucket, Key: &key,
			Body: bytes.NewReader([]byte(key))})
		return err
	})
}

// read reads key whole by ranged GETs of one chunk each, parallel at a
// time, and returns GB/s.
func (b *bench) read(ctx context.Context, key string) (float64, error) {
	head, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: &key})
	if err != nil {
		return 0, err
	}
	size := aws.ToInt64(head.ContentLength)
	n := int((size + b.chunk - 1) / b.chunk)
	bufs := sync.Pool{New: func() any { return make([]byte, b.chunk) }}
	start := time.Now()
	err = b.each(n, func(i int) error {
		off := int64(i) * b.chunk
		end := min(off+b.chunk, size) - 1
		out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.bucket, Key: &key,
			Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, end))})
		if err != nil {
			return err
		}
		defer out.Body.Close()
		buf := bufs.Get().([]byte)
		defer bufs.Put(buf)
		got, err := io.ReadFull(out.Body, buf[:end-off+1])
		if err != nil {
			return fmt.Errorf("range at %d: %d bytes: %w", off, got, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return float64(size) / time.Since(start).Seconds() / 1e9, nil
}

// each runs f(0..n-1) on b.parallel goroutines and returns the first error.
func (b *bench) each(n int, f func(i int) error) error {
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range b.parallel {
		wg.Go(func() {
			for i := range work {
				if err := f(i); err != nil {
					mu.Lock()
					first = errors.Join(first, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	return first
}
