// vcsim-virtkit: govmomi's vSphere simulator on a loopback port, for virtkit-vmware's tests.
//
// Built in GOPATH mode against Debian's golang-github-vmware-govmomi-dev (GO111MODULE=off,
// GOPATH=/usr/share/gocode). Prints one line "READY <url>" on stdout once it serves, then runs
// until SIGTERM/SIGINT or until its stdin closes (so a dying parent never leaves it behind).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io/ioutil"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/vmware/govmomi/simulator"
)

func main() {
	model := flag.String("model", "esx", "esx (a standalone ESX host) or vpx (a vCenter)")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	user := flag.String("username", "user", "the one accepted user name")
	pass := flag.String("password", "pass", "the one accepted password")
	vms := flag.Int("vm", -1, "virtual machines per resource pool (-1: the model's default)")
	ds := flag.Int("ds", -1, "datastores (-1: the model's default)")
	watchStdin := flag.Bool("stdin", true, "exit when stdin reaches end of file")
	delays := map[string]int{}
	flag.Func("delay", "METHOD=MILLISECONDS: serve METHOD that much later (repeatable)",
		func(v string) error {
			parts := strings.SplitN(v, "=", 2)
			if len(parts) != 2 {
				return fmt.Errorf("expected METHOD=MILLISECONDS, got %q", v)
			}
			ms, err := strconv.Atoi(parts[1])
			if err != nil {
				return err
			}
			delays[parts[0]] = ms
			return nil
		})
	flag.Parse()

	var m *simulator.Model
	switch *model {
	case "esx":
		m = simulator.ESX()
	case "vpx":
		m = simulator.VPX()
	default:
		fmt.Fprintf(os.Stderr, "unknown model %q (esx or vpx)\n", *model)
		os.Exit(2)
	}
	if *vms >= 0 {
		m.Machine = *vms
	}
	if *ds >= 0 {
		m.Datastore = *ds
	}
	if len(delays) > 0 {
		m.DelayConfig.MethodDelay = delays
	}
	// Keep the simulator quiet: its trace goes nowhere unless asked for.
	simulator.Trace = false

	if err := m.Create(); err != nil {
		fmt.Fprintf(os.Stderr, "create model: %v\n", err)
		os.Exit(1)
	}
	m.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*user, *pass)}
	m.Service.RegisterEndpoints = true
	s := m.Service.NewServer()
	u := *s.URL
	u.User = nil
	fmt.Printf("READY %s\n", u.String())
	os.Stdout.Sync()

	done := make(chan struct{}, 2)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; done <- struct{}{} }()
	if *watchStdin {
		go func() {
			r := bufio.NewReader(os.Stdin)
			_, _ = ioutil.ReadAll(r)
			done <- struct{}{}
		}()
	}
	<-done
	s.Close()
	m.Remove()
}
