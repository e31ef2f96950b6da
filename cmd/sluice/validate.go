package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/daemon"
)

// cmdValidate loads file and prints a one-line summary, or every problem
// (one per line, "FILE:LINE: path: problem") on stderr with exit code 2.
func cmdValidate(file string, stdout, stderr io.Writer) int {
	cfg, err := daemon.Load(file)
	if err != nil {
		printLoadError(stderr, err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "%s: valid (%s)\n", file, summary(cfg))
	return exitOK
}

// printLoadError prints configuration problems one per line, or any other
// error prefixed with "sluice: ".
func printLoadError(w io.Writer, err error) {
	var ce *config.Error
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			fmt.Fprintln(w, p.String())
		}
		return
	}
	fmt.Fprintf(w, "sluice: %v\n", err)
}

// summary describes a valid configuration: "1 source, kafka 1 broker".
func summary(cfg daemon.Config) string {
	kafka := "kafka embedded"
	if !cfg.Kafka.IsEmbedded() {
		kafka = "kafka " + plural(len(cfg.Kafka.Brokers), "broker")
	}
	return plural(len(cfg.Sources), "source") + ", " + kafka
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
