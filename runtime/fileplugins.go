package runtime

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	capfile "github.com/sluice-cdc/sluice/capture/file"
	sinkfile "github.com/sluice-cdc/sluice/sinks/file"
)

// Class names of the FileStream connectors Sluice implements.
const (
	FileSinkClass   = "org.apache.kafka.connect.file.FileStreamSinkConnector"
	FileSourceClass = "org.apache.kafka.connect.file.FileStreamSourceConnector"
)

// DefaultPlugins returns the plugins Sluice ships, reporting version.
func DefaultPlugins(version string) []*Plugin {
	return []*Plugin{FileSinkPlugin(version), FileSourcePlugin(version)}
}

// FileSinkPlugin is FileStreamSinkConnector over sinks/file: one task.
func FileSinkPlugin(version string) *Plugin {
	return &Plugin{
		Class:     FileSinkClass,
		Aliases:   []string{"FileStreamSink", "FileStreamSinkConnector", "file-sink"},
		Type:      SinkType,
		Version:   version,
		TaskClass: "org.apache.kafka.connect.file.FileStreamSinkTask",
		Configs: []ConfigKey{{Name: "file", Type: TypeString, Importance: High,
			Documentation: "Destination filename. If not specified, the standard output will be used"}},
		NewSinkTask: func(cfg map[string]string) (SinkTask, error) {
			w, err := sinkfile.Open(sinkfile.Config{File: cfg["file"]})
			if err != nil {
				return nil, err
			}
			return fileSinkTask{w}, nil
		},
	}
}

type fileSinkTask struct{ w *sinkfile.Writer }

func (t fileSinkTask) Put(ctx context.Context, recs []SinkRecord) error {
	values := make([]any, len(recs))
	for i, r := range recs {
		values[i] = r.Value
	}
	return t.w.Put(ctx, values)
}

func (t fileSinkTask) Flush(ctx context.Context) error { return t.w.Flush(ctx) }
func (t fileSinkTask) Close() error                    { return t.w.Close() }

// FileSourcePlugin is FileStreamSourceConnector over capture/file: one task;
// partition {"filename": file}, offset {"position": bytes}.
func FileSourcePlugin(version string) *Plugin {
	return &Plugin{
		Class:     FileSourceClass,
		Aliases:   []string{"FileStreamSource", "FileStreamSourceConnector", "file-source"},
		Type:      SourceType,
		Version:   version,
		TaskClass: "org.apache.kafka.connect.file.FileStreamSourceTask",
		Configs: []ConfigKey{
			{Name: "file", Type: TypeString, Importance: High,
				Documentation: "Source filename. Sluice needs a file (FileStreamSource's standard input is not supported).",
				Check: func(v *string, _ map[string]string) []string {
					if v == nil || *v == "" {
						return []string{"Invalid value null for configuration file: Sluice's file source needs a file"}
					}
					return nil
				}},
			{Name: "topic", Type: TypeList, Required: true, Importance: High,
				Documentation: "The topic to publish data to",
				Check: func(v *string, _ map[string]string) []string {
					if v == nil {
						return []string{`Missing required configuration "topic" which has no default value.`}
					}
					if strings.TrimSpace(*v) == "" || strings.Contains(*v, ",") {
						return []string{fmt.Sprintf("Invalid value %s for configuration topic: 'topic' in FileStreamSourceConnector configuration requires definition of a single topic.", *v)}
					}
					return nil
				}},
			{Name: "batch.size", Type: TypeInt, Default: str(strconv.Itoa(capfile.DefaultBatchSize)), Importance: Low,
				Documentation: "The maximum number of records the source task can read from the file each time it is polled",
				Check: func(v *string, _ map[string]string) []string {
					if v != nil {
						if n, _ := strconv.Atoi(strings.TrimSpace(*v)); n < 1 {
							return []string{fmt.Sprintf("Invalid value %s for configuration batch.size: Value must be at least 1", *v)}
						}
					}
					return nil
				}},
		},
		NewSourceTask: func(cfg map[string]string, offset func(map[string]any) map[string]any) (SourceTask, error) {
			batch := capfile.DefaultBatchSize
			if s := strings.TrimSpace(cfg["batch.size"]); s != "" {
				n, err := strconv.Atoi(s)
				if err != nil {
					return nil, fmt.Errorf("batch.size %q: %w", s, err)
				}
				batch = n
			}
			file := cfg["file"]
			var start int64
			if off := offset(map[string]any{"filename": file}); off != nil {
				p, err := positionOf(off)
				if err != nil {
					return nil, err
				}
				start = p
			}
			r, err := capfile.New(capfile.Config{File: file, BatchSize: batch, Start: start})
			if err != nil {
				return nil, err
			}
			return &fileSourceTask{r: r, file: file, topic: strings.TrimSpace(cfg["topic"])}, nil
		},
		CheckOffset: func(partition, offset map[string]any) error {
			if _, ok := partition["filename"].(string); !ok || len(partition) != 1 {
				return badRequest("The partition for a FileStreamSource offset must contain exactly the key 'filename' with a string value")
			}
			if offset == nil {
				return nil
			}
			_, err := positionOf(offset)
			return err
		},
	}
}

// positionOf reads the "position" of a file source offset; its message is
// Kafka's (and, as there, a 500: the request was well formed).
func positionOf(off map[string]any) (int64, error) {
	msg := "The value for the 'position' key in the offset is expected to be a Long value"
	switch v := off["position"].(type) {
	case float64:
		if v != float64(int64(v)) || v < 0 {
			return 0, internal(nil, "%s", msg)
		}
		return int64(v), nil
	case int64:
		return v, nil
	case interface{ Int64() (int64, error) }:
		n, err := v.Int64()
		if err != nil || n < 0 {
			return 0, internal(err, "%s", msg)
		}
		return n, nil
	}
	return 0, internal(nil, "%s", msg)
}

type fileSourceTask struct {
	r     *capfile.Reader
	file  string
	topic string
}

func (t *fileSourceTask) Run(ctx context.Context, emit func(context.Context, []SourceRecord) error) error {
	part := map[string]any{"filename": t.file}
	return t.r.Run(ctx, func(ctx context.Context, lines []capfile.Line) error {
		recs := make([]SourceRecord, len(lines))
		for i, l := range lines {
			recs[i] = SourceRecord{Partition: part, Offset: map[string]any{"position": l.Position}, Topic: t.topic, Value: l.Text}
		}
		return emit(ctx, recs)
	})
}
