package s3

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// store is the bucket: uploads (single or multipart), listings, heads.
type store struct {
	cl  *s3.Client
	cfg Config
}

// NewClient returns an S3 client for c's endpoint, region, addressing and
// credentials (c's keys, else the AWS credential chain); opts change more.
func NewClient(ctx context.Context, c Config, opts ...func(*s3.Options)) (*s3.Client, error) {
	load := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(c.Region)}
	if c.AccessKeyID != "" {
		load = append(load, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	base := func(o *s3.Options) {
		o.UsePathStyle = c.PathStyle
		if c.StoreURL != "" {
			o.BaseEndpoint = aws.String(c.StoreURL)
		}
		// Checksums only where S3 requires them: S3-compatible servers
		// do not all know the SDK's newer default trailers.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}
	return s3.NewFromConfig(ac, append([]func(*s3.Options){base}, opts...)...), nil
}

// put uploads body as key with metadata: one PutObject up to the part size,
// a multipart upload of part-size parts above it (aborted on failure).
func (s *store) put(ctx context.Context, key string, body io.ReaderAt, size int64, meta map[string]string) error {
	if size <= s.cfg.PartSize {
		in := &s3.PutObjectInput{Bucket: &s.cfg.Bucket, Key: &key, Body: io.NewSectionReader(body, 0, size),
			ContentLength: aws.Int64(size), Metadata: meta}
		s.ssePut(&in.ServerSideEncryption, &in.SSEKMSKeyId, &in.SSECustomerAlgorithm, &in.SSECustomerKey, &in.SSECustomerKeyMD5)
		if _, err := s.cl.PutObject(ctx, in); err != nil {
			return fmt.Errorf("put object %s: %w", key, err)
		}
		return nil
	}
	cin := &s3.CreateMultipartUploadInput{Bucket: &s.cfg.Bucket, Key: &key, Metadata: meta}
	s.ssePut(&cin.ServerSideEncryption, &cin.SSEKMSKeyId, &cin.SSECustomerAlgorithm, &cin.SSECustomerKey, &cin.SSECustomerKeyMD5)
	up, err := s.cl.CreateMultipartUpload(ctx, cin)
	if err != nil {
		return fmt.Errorf("create multipart upload of %s: %w", key, err)
	}
	abort := func(err error) error {
		// Best effort, and not under ctx, which may be what ended.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		_, aerr := s.cl.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &s.cfg.Bucket, Key: &key, UploadId: up.UploadId})
		return errors.Join(err, aerr)
	}
	var parts []types.CompletedPart
	for n, off := int32(1), int64(0); off < size; n++ {
		end := min(off+s.cfg.PartSize, size)
		pin := &s3.UploadPartInput{Bucket: &s.cfg.Bucket, Key: &key, UploadId: up.UploadId, PartNumber: aws.Int32(n),
			Body: io.NewSectionReader(body, off, end-off), ContentLength: aws.Int64(end - off)}
		if s.cfg.SSECustomerKey != "" {
			pin.SSECustomerAlgorithm, pin.SSECustomerKey = aws.String("AES256"), aws.String(s.cfg.SSECustomerKey)
			pin.SSECustomerKeyMD5 = aws.String(sseCustomerKeyMD5(s.cfg.SSECustomerKey))
		}
		out, err := s.cl.UploadPart(ctx, pin)
		if err != nil {
			return abort(fmt.Errorf("upload part %d of %s: %w", n, key, err))
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
		off = end
	}
	_, err = s.cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &s.cfg.Bucket, Key: &key,
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		return abort(fmt.Errorf("complete multipart upload of %s: %w", key, err))
	}
	return nil
}

func (s *store) ssePut(alg *types.ServerSideEncryption, kms, calg, ckey, cmd5 **string) {
	if s.cfg.SSEAlgorithm != "" {
		*alg = types.ServerSideEncryption(s.cfg.SSEAlgorithm)
	}
	if s.cfg.SSEKMSKeyID != "" {
		*kms = aws.String(s.cfg.SSEKMSKeyID)
	}
	if s.cfg.SSECustomerKey != "" {
		*calg, *ckey = aws.String("AES256"), aws.String(s.cfg.SSECustomerKey)
		*cmd5 = aws.String(sseCustomerKeyMD5(s.cfg.SSECustomerKey))
	}
}

// list returns the keys under prefix.
func (s *store) list(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.cl, &s3.ListObjectsV2Input{Bucket: &s.cfg.Bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s/%s: %w", s.cfg.Bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}

// meta returns an object's user metadata (keys lower-case).
func (s *store) meta(ctx context.Context, key string) (map[string]string, error) {
	in := &s3.HeadObjectInput{Bucket: &s.cfg.Bucket, Key: &key}
	if s.cfg.SSECustomerKey != "" {
		in.SSECustomerAlgorithm, in.SSECustomerKey = aws.String("AES256"), aws.String(s.cfg.SSECustomerKey)
		in.SSECustomerKeyMD5 = aws.String(sseCustomerKeyMD5(s.cfg.SSECustomerKey))
	}
	out, err := s.cl.HeadObject(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("head object %s: %w", key, err)
	}
	return out.Metadata, nil
}

// checkBucket fails when the bucket is missing or not reachable.
func (s *store) checkBucket(ctx context.Context) error {
	if _, err := s.cl.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.cfg.Bucket}); err != nil {
		return fmt.Errorf("bucket %s: %w", s.cfg.Bucket, err)
	}
	return nil
}
