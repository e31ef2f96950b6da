// Command sluice is the Sluice change-data-capture daemon. This file only
// parses the command line and dispatches to a subcommand.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // bad command line or invalid configuration
)

const usage = `Usage: sluice <command> [flags]

Commands:
  run -c FILE        run the daemon with the configuration in FILE
  validate -c FILE   check FILE and list every problem in it
  worker -c FILE     run a distributed Connect worker (worker.yaml)
  registry -c FILE   run the embedded schema registry alone on registry.listen
  demo               capture a demo Postgres database and print its change events
  version            print the version
  help               print this help

FILE defaults to sluice.yaml. Run "sluice <command> -h" for its flags.
`

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// dispatch runs the subcommand named by args[0] and returns the exit code.
func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "version", "--version":
		return parsed(cmd, rest, stderr, nil, func() int { return cmdVersion(stdout) })
	case "validate":
		var file string
		return parsed(cmd, rest, stderr, func(fs *flag.FlagSet) { configFlag(fs, &file) },
			func() int { return cmdValidate(file, stdout, stderr) })
	case "run":
		var file string
		return parsed(cmd, rest, stderr, func(fs *flag.FlagSet) { configFlag(fs, &file) },
			func() int { return cmdRun(file, stderr) })
	case "worker":
		var file string
		return parsed(cmd, rest, stderr, func(fs *flag.FlagSet) { fs.StringVar(&file, "c", "worker.yaml", "worker configuration `FILE`") },
			func() int { return cmdWorker(file, stderr) })
	case "registry":
		var file string
		return parsed(cmd, rest, stderr, func(fs *flag.FlagSet) { configFlag(fs, &file) },
			func() int { return cmdRegistry(file, stderr) })
	case "demo":
		var f demoFlags
		return parsed(cmd, rest, stderr, f.define, func() int { return cmdDemo(f, stdout, stderr) })
	}
	fmt.Fprintf(stderr, "sluice: unknown command %q\n\n%s", cmd, usage)
	return exitUsage
}

func configFlag(fs *flag.FlagSet, file *string) {
	fs.StringVar(file, "c", "sluice.yaml", "configuration `FILE`")
	fs.StringVar(file, "config", "sluice.yaml", "configuration `FILE` (same as -c)")
}

// parsed parses a subcommand's flags, then runs it. It takes no positional
// arguments.
func parsed(name string, args []string, stderr io.Writer, define func(*flag.FlagSet), run func() int) int {
	fs := flag.NewFlagSet("sluice "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if define != nil {
		define(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sluice %s: unexpected argument %q\n", name, fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	return run()
}
