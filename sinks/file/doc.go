// Package file is the file sink, compatible with Kafka Connect's
// FileStreamSink (keys `file` and `topics`): it appends each record value to
// a file as one line.
//
// The package does only the I/O. The Connect runtime (package runtime) owns
// the consumer group (`connect-<connector>`), converts record values and
// commits consumer offsets only after Flush has returned, that is after the
// lines are written and fsynced: a crash can repeat lines, never lose one.
// With no file configured, lines go to standard output (as FileStreamSink
// does) and Flush does not sync.
package file
