package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sluice-cdc/sluice/internal/demo"
)

// demoFlags holds the flags of "sluice demo".
type demoFlags struct {
	config, pgURL, brokers string
	timeout                time.Duration
}

func (f *demoFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "c", demo.DefaultConfigFile, "demo configuration `FILE`")
	fs.StringVar(&f.pgURL, "pg", os.Getenv("SLUICE_PG_URL"), "Postgres `URL` of an existing database (default $SLUICE_PG_URL)")
	fs.StringVar(&f.brokers, "brokers", os.Getenv("SLUICE_KAFKA_BROKERS"), "Kafka `brokers`, comma-separated; empty for the embedded broker (default $SLUICE_KAFKA_BROKERS)")
	fs.DurationVar(&f.timeout, "timeout", demo.DefaultTimeout, "give up after this long")
}

// cmdDemo runs the end-to-end demo: exit code 0 when every expected change
// event was printed, 1 otherwise.
func cmdDemo(f demoFlags, stdout, stderr io.Writer) int {
	if f.pgURL == "" {
		fmt.Fprintln(stderr, "sluice demo: no Postgres: set SLUICE_PG_URL or pass -pg (scripts/services.sh up postgres starts one)")
		return exitUsage
	}
	var brokers []string
	for b := range strings.SplitSeq(f.brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := demo.Run(ctx, demo.Options{
		ConfigFile: f.config,
		PGURL:      f.pgURL,
		Brokers:    brokers,
		Timeout:    f.timeout,
		Stdout:     stdout,
		Stderr:     stderr,
	})
	if err != nil {
		fmt.Fprintf(stderr, "sluice demo: FAILED: %v\n", err)
		return exitFailure
	}
	return exitOK
}
