// Command compose-v2-config loads a Compose file with compose-go, the loader
// Docker Compose v2 is built on (github.com/docker/compose/v5 at the version in
// go.mod's comment), and prints the normalised project as JSON: what
// `docker compose -f FILE --env-file ENV -p NAME config --format json` prints,
// without Docker. Errors go to stderr with exit status 1.
//
//	compose-v2-config ENV_FILE COMPOSE_FILE PROJECT_NAME
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: compose-v2-config ENV_FILE COMPOSE_FILE PROJECT_NAME")
		os.Exit(2)
	}
	options, err := cli.NewProjectOptions(
		[]string{os.Args[2]},
		cli.WithEnvFiles(os.Args[1]),
		cli.WithDotEnv,
		cli.WithName(os.Args[3]),
	)
	if err == nil {
		var out []byte
		project, loadErr := options.LoadProject(context.Background())
		err = loadErr
		if err == nil {
			out, err = project.MarshalJSON()
		}
		if err == nil {
			fmt.Println(string(out))
			return
		}
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
