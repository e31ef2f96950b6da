package s3

import (
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/sinks/s3/format"
)

// Partitioner classes (partitioner.class), Confluent's names.
const (
	DefaultPartitionerClass   = "io.confluent.connect.storage.partitioner.DefaultPartitioner"
	FieldPartitionerClass     = "io.confluent.connect.storage.partitioner.FieldPartitioner"
	TimeBasedPartitionerClass = "io.confluent.connect.storage.partitioner.TimeBasedPartitioner"
	HourlyPartitionerClass    = "io.confluent.connect.storage.partitioner.HourlyPartitioner"
	DailyPartitionerClass     = "io.confluent.connect.storage.partitioner.DailyPartitioner"
)

// behavior.on.null.values.
const (
	NullIgnore = "ignore"
	NullFail   = "fail"
	NullWrite  = "write"
)

// Timestamp extractors (timestamp.extractor).
const (
	ExtractRecord      = "Record"
	ExtractRecordField = "RecordField"
	ExtractWallclock   = "Wallclock"
)

// Defaults of Confluent's S3 sink.
const (
	DefaultRegion      = "us-west-2"
	DefaultPartSize    = 25 << 20
	MinPartSize        = 5 << 20
	DefaultTopicsDir   = "topics"
	DefaultPadWidth    = 10
	DefaultFormatClass = "io.confluent.connect.s3.format.avro.AvroFormat"
	// DefaultMemoryBudget is s3.buffer.memory.bytes' default.
	DefaultMemoryBudget = 256 << 20
)

// Config is the parsed configuration of an S3 sink.
type Config struct {
	Bucket          string
	Region          string
	StoreURL        string // custom endpoint; "" for AWS
	PathStyle       bool
	AccessKeyID     string // "" uses the AWS credential chain
	SecretAccessKey string
	PartSize        int64
	SSEAlgorithm    string // s3.ssea.name: "", AES256, aws:kms
	SSEKMSKeyID     string
	SSECustomerKey  string // base64 AES-256 key (SSE-C)

	TopicsDir string
	DirDelim  string
	FileDelim string
	PadWidth  int
	FlushSize int
	RotateInterval,
	RotateSchedule time.Duration // 0: off

	PartitionerClass  string
	PartitionFields   []string
	PathFormat        string
	PartitionDuration time.Duration
	Locale            string
	Timezone          *time.Location
	TimezoneName      string
	Extractor         string
	TimestampField    string

	FormatClass        string
	StoreKeys          bool
	StoreHeaders       bool
	KeysFormatClass    string
	HeadersFormatClass string
	NullValues         string
	Format             format.Options

	// MemoryBudget bounds the bytes of open objects held in memory
	// (s3.buffer.memory.bytes); past it the largest go to temporary files
	// in SpoolDir (s3.buffer.dir, "" the system's).
	MemoryBudget int64
	SpoolDir     string
}

// Key describes one configuration key, for the runtime's plugin registry.
type Key struct {
	Name    string
	Type    string // string, int, long, boolean, list, password
	Default string // "" when none
	Doc     string
}

// ConfigKeys lists the keys ParseConfig understands.
func ConfigKeys() []Key {
	return []Key{
		{"s3.bucket.name", "string", "", "the bucket objects are written to (required)"},
		{"s3.region", "string", DefaultRegion, "the bucket's region"},
		{"store.url", "string", "", "endpoint of an S3-compatible server; empty for AWS"},
		{"s3.path.style.access.enabled", "boolean", "true", "address the bucket in the path, not the host name"},
		{"aws.access.key.id", "string", "", "access key; empty uses the AWS credential chain (environment, shared files, instance roles)"},
		{"aws.secret.access.key", "password", "", "secret key"},
		{"s3.part.size", "int", strconv.Itoa(DefaultPartSize), "objects larger than this go up as multipart uploads of parts of this size (at least 5 MiB)"},
		{"s3.ssea.name", "string", "", "server-side encryption: AES256 or aws:kms"},
		{"s3.sse.kms.key.id", "string", "", "KMS key of aws:kms encryption"},
		{"s3.sse.customer.key", "password", "", "base64 AES-256 key of SSE-C encryption"},
		{"topics.dir", "string", DefaultTopicsDir, "top-level folder of the objects"},
		{"directory.delim", "string", "/", "delimiter of the object path"},
		{"file.delim", "string", "+", "delimiter of topic, partition and offset in file names"},
		{"filename.offset.zero.pad.width", "int", strconv.Itoa(DefaultPadWidth), "width the start offset is zero-padded to"},
		{"flush.size", "int", "", "records per object before it is committed (required)"},
		{"rotate.interval.ms", "long", "-1", "commit an object once a record's timestamp is this far past the object's first (deterministic)"},
		{"rotate.schedule.interval.ms", "long", "-1", "commit open objects this long (wall clock) after they were opened (not exactly-once)"},
		{"partitioner.class", "string", DefaultPartitionerClass, "Default, Field, TimeBased, Hourly or Daily partitioner (Confluent's class names)"},
		{"partition.field.name", "list", "", "value fields of the FieldPartitioner"},
		{"path.format", "string", "", "Joda-Time pattern of the TimeBasedPartitioner's path, e.g. 'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH"},
		{"partition.duration.ms", "long", "-1", "time span of a TimeBasedPartitioner partition"},
		{"locale", "string", "", "locale of the path's month and day names (en)"},
		{"timezone", "string", "", "time zone of the path (an IANA name or UTC)"},
		{"timestamp.extractor", "string", ExtractWallclock, "Record (Kafka timestamp), RecordField (timestamp.field) or Wallclock"},
		{"timestamp.field", "string", "timestamp", "value field (dotted path) the RecordField extractor reads"},
		{"format.class", "string", DefaultFormatClass, "JsonFormat, AvroFormat, ParquetFormat or ByteArrayFormat (Confluent's class names or json, avro, parquet, bytearray)"},
		{"store.kafka.keys", "boolean", "false", "write record keys to .keys side objects"},
		{"store.kafka.headers", "boolean", "false", "write record headers to .headers side objects"},
		{"keys.format.class", "string", DefaultFormatClass, "format of the keys objects"},
		{"headers.format.class", "string", DefaultFormatClass, "format of the headers objects"},
		{"behavior.on.null.values", "string", NullFail, "tombstones: ignore, fail or write"},
		{"s3.compression.type", "string", "none", "none or gzip (JSON)"},
		{"avro.codec", "string", "null", "Avro block codec"},
		{"parquet.codec", "string", "snappy", "Parquet compression codec"},
		{"s3.compression.level", "int", "-1", "gzip level 1..9, -1 the default"},
		{"json.decimal.format", "string", "BASE64", "JSON decimals: BASE64 or NUMERIC"},
		{"format.bytearray.extension", "string", ".bin", "extension of ByteArrayFormat objects"},
		{"format.bytearray.separator", "string", "", "separator of ByteArrayFormat records (default a line break)"},
		{"s3.buffer.memory.bytes", "long", strconv.Itoa(DefaultMemoryBudget), "Sluice: bytes of open objects kept in memory; past it the largest are moved to temporary files"},
		{"s3.buffer.dir", "string", "", "Sluice: folder of those temporary files (default the system's, TMPDIR)"},
	}
}

// ParseConfig parses and validates an S3 sink configuration; every error
// names its key. Unknown keys are ignored (the runtime passes the
// connector's other keys too).
func ParseConfig(m map[string]string) (Config, error) {
	get := func(k string) string { return strings.TrimSpace(m[k]) }
	or := func(k, def string) string {
		if v := get(k); v != "" {
			return v
		}
		return def
	}
	c := Config{
		Bucket:          get("s3.bucket.name"),
		Region:          or("s3.region", DefaultRegion),
		StoreURL:        get("store.url"),
		AccessKeyID:     get("aws.access.key.id"),
		SecretAccessKey: m["aws.secret.access.key"],
		SSEAlgorithm:    get("s3.ssea.name"),
		SSEKMSKeyID:     get("s3.sse.kms.key.id"),
		SSECustomerKey:  get("s3.sse.customer.key"),
		TopicsDir:       strings.Trim(or("topics.dir", DefaultTopicsDir), "/"),
		// The delimiters are used as given (a space is a delimiter).
		DirDelim:           m["directory.delim"],
		FileDelim:          m["file.delim"],
		PartitionerClass:   or("partitioner.class", DefaultPartitionerClass),
		PathFormat:         get("path.format"),
		Locale:             get("locale"),
		TimezoneName:       get("timezone"),
		Extractor:          or("timestamp.extractor", ExtractWallclock),
		TimestampField:     or("timestamp.field", "timestamp"),
		FormatClass:        or("format.class", DefaultFormatClass),
		KeysFormatClass:    or("keys.format.class", DefaultFormatClass),
		HeadersFormatClass: or("headers.format.class", DefaultFormatClass),
		NullValues:         strings.ToLower(or("behavior.on.null.values", NullFail)),
		Format:             formatOptions(m),
	}
	if c.DirDelim == "" {
		c.DirDelim = "/"
	}
	if c.FileDelim == "" {
		c.FileDelim = "+"
	}
	var errs []error
	bad := func(k, v, why string) { errs = append(errs, fmt.Errorf("%s: %q %s", k, v, why)) }
	num := func(k string, def int64) int64 {
		v := get(k)
		if v == "" {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			bad(k, v, "is not a number")
			return def
		}
		return n
	}
	boolean := func(k string, def bool) bool {
		v := get(k)
		if v == "" {
			return def
		}
		b, err := strconv.ParseBool(strings.ToLower(v))
		if err != nil {
			bad(k, v, "is not true or false")
			return def
		}
		return b
	}
	ms := func(k string) time.Duration {
		n := num(k, -1)
		if n <= 0 {
			return 0
		}
		return time.Duration(n) * time.Millisecond
	}
	if c.Bucket == "" {
		errs = append(errs, errors.New("s3.bucket.name: is required"))
	}
	c.PathStyle = boolean("s3.path.style.access.enabled", true)
	c.StoreKeys = boolean("store.kafka.keys", false)
	c.StoreHeaders = boolean("store.kafka.headers", false)
	if (c.AccessKeyID == "") != (strings.TrimSpace(c.SecretAccessKey) == "") {
		errs = append(errs, errors.New("aws.access.key.id: aws.access.key.id and aws.secret.access.key go together"))
	}
	c.PartSize = num("s3.part.size", DefaultPartSize)
	if c.PartSize < MinPartSize || c.PartSize > 1<<31-1 {
		bad("s3.part.size", get("s3.part.size"), "is not between 5242880 and 2147483647")
	}
	switch c.SSEAlgorithm {
	case "", "AES256", "aws:kms":
	default:
		bad("s3.ssea.name", c.SSEAlgorithm, "is not AES256 or aws:kms")
	}
	if c.SSEKMSKeyID != "" && c.SSEAlgorithm != "aws:kms" {
		bad("s3.sse.kms.key.id", c.SSEKMSKeyID, "needs s3.ssea.name aws:kms")
	}
	if c.SSECustomerKey != "" {
		if k, err := base64.StdEncoding.DecodeString(c.SSECustomerKey); err != nil || len(k) != 32 {
			errs = append(errs, errors.New("s3.sse.customer.key: is not a base64 256-bit key"))
		}
		if c.SSEAlgorithm != "" {
			bad("s3.ssea.name", c.SSEAlgorithm, "cannot be combined with s3.sse.customer.key")
		}
	}
	c.PadWidth = int(num("filename.offset.zero.pad.width", DefaultPadWidth))
	if c.PadWidth < 0 || c.PadWidth > 19 {
		bad("filename.offset.zero.pad.width", get("filename.offset.zero.pad.width"), "is not between 0 and 19")
	}
	if get("flush.size") == "" {
		errs = append(errs, errors.New("flush.size: is required"))
	} else if n := num("flush.size", 0); n < 1 {
		bad("flush.size", get("flush.size"), "is not a positive number")
	} else {
		c.FlushSize = int(n)
	}
	c.MemoryBudget = num("s3.buffer.memory.bytes", DefaultMemoryBudget)
	if c.MemoryBudget < 0 {
		bad("s3.buffer.memory.bytes", get("s3.buffer.memory.bytes"), "is negative")
	}
	c.SpoolDir = get("s3.buffer.dir")
	c.RotateInterval = ms("rotate.interval.ms")
	c.RotateSchedule = ms("rotate.schedule.interval.ms")
	c.PartitionDuration = ms("partition.duration.ms")
	for _, f := range strings.Split(m["partition.field.name"], ",") {
		if f = strings.TrimSpace(f); f != "" {
			c.PartitionFields = append(c.PartitionFields, f)
		}
	}
	switch c.NullValues {
	case NullIgnore, NullFail, NullWrite:
	default:
		bad("behavior.on.null.values", c.NullValues, "is not ignore, fail or write")
	}
	switch c.Extractor {
	case ExtractRecord, ExtractRecordField, ExtractWallclock:
	default:
		bad("timestamp.extractor", c.Extractor, "is not Record, RecordField or Wallclock")
	}
	c.Timezone = time.UTC
	if c.TimezoneName != "" {
		loc, err := time.LoadLocation(c.TimezoneName)
		if err != nil {
			bad("timezone", c.TimezoneName, "is not a time zone")
		} else {
			c.Timezone = loc
		}
	}
	switch canonicalPartitioner(c.PartitionerClass) {
	case DefaultPartitionerClass:
	case FieldPartitionerClass:
		if len(c.PartitionFields) == 0 {
			errs = append(errs, errors.New("partition.field.name: is required by the FieldPartitioner"))
		}
	case TimeBasedPartitionerClass:
		if c.PathFormat == "" {
			errs = append(errs, errors.New("path.format: is required by the TimeBasedPartitioner"))
		}
		if c.PartitionDuration <= 0 {
			errs = append(errs, errors.New("partition.duration.ms: is required by the TimeBasedPartitioner"))
		}
		fallthrough
	case HourlyPartitionerClass, DailyPartitionerClass:
		if c.Locale == "" {
			errs = append(errs, errors.New("locale: is required by time-based partitioners"))
		}
		if c.TimezoneName == "" {
			errs = append(errs, errors.New("timezone: is required by time-based partitioners"))
		}
		if c.Extractor == ExtractRecordField && c.TimestampField == "" {
			errs = append(errs, errors.New("timestamp.field: is required by the RecordField extractor"))
		}
	default:
		bad("partitioner.class", c.PartitionerClass, "is not a known partitioner")
	}
	c.PartitionerClass = canonicalPartitioner(c.PartitionerClass)
	if len(errs) == 0 {
		// Building the partitioner checks path.format and locale.
		if _, err := newPartitioner(c); err != nil {
			errs = append(errs, err)
		}
		for _, f := range []struct {
			key, class string
			on         bool
			mk         func(string, format.Options) (format.Format, error)
		}{
			{"", c.FormatClass, true, format.New},
			{"keys.format.class", c.KeysFormatClass, c.StoreKeys, format.NewKeys},
			{"headers.format.class", c.HeadersFormatClass, c.StoreHeaders, format.NewHeaders},
		} {
			if f.on {
				if _, err := f.mk(f.class, c.Format); err != nil {
					if f.key != "" {
						// The format names format.class; name the side key.
						err = fmt.Errorf("%s: %s", f.key, strings.TrimPrefix(err.Error(), "format.class: "))
					}
					errs = append(errs, err)
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("s3 sink config: %w", err)
	}
	return c, nil
}

// canonicalPartitioner maps a short partitioner name to Confluent's class.
func canonicalPartitioner(class string) string {
	for _, full := range []string{DefaultPartitionerClass, FieldPartitionerClass, TimeBasedPartitionerClass,
		HourlyPartitionerClass, DailyPartitionerClass} {
		short := full[strings.LastIndexByte(full, '.')+1:]
		if class == full || class == short {
			return full
		}
	}
	return class
}

// sseCustomerKeyMD5 is the base64 MD5 of the SSE-C key S3 wants beside it.
func sseCustomerKeyMD5(key string) string {
	raw, _ := base64.StdEncoding.DecodeString(key)
	sum := md5.Sum(raw)
	return base64.StdEncoding.EncodeToString(sum[:])
}
