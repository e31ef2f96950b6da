// Package file reads a text file line by line, as Kafka Connect's
// FileStreamSource does: each complete line ("\n"-terminated, a trailing
// "\r" removed) becomes one record, and the position of a record is the byte
// offset just past its line, so a reader restarted at a saved position resumes
// with the next unread line and never repeats or skips one.
//
// The reader tails the file: at its end it waits (PollInterval) for more
// bytes. A partial last line is not emitted until its newline arrives. The
// package knows nothing about Kafka or offset storage; the runtime saves the
// position of a batch only after the batch is in Kafka.
package file
