// A tiny libcni client for the CNI tests: what a runtime does with a conflist, through libcni
// itself (Debian's golang-github-appc-cni-dev; cnitool is not packaged). Built by the tests with
// GOPATH=/usr/share/gocode and no network.
//
//	libcni-driver add|check|del CONFLIST CONTAINER_ID NETNS IFNAME [CAPABILITY_ARGS_JSON]
//
// Prints the ADD result as JSON; an error is printed on stderr with exit 1.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

func main() {
	if len(os.Args) < 6 {
		fmt.Fprintln(os.Stderr, "usage: libcni-driver add|check|del CONFLIST CONTAINER_ID NETNS IFNAME [CAPABILITY_ARGS_JSON]")
		os.Exit(2)
	}
	cmd, file, id, netns, ifname := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	list, err := libcni.ConfListFromFile(file)
	if err != nil {
		fail(err)
	}
	caps := map[string]interface{}{}
	if len(os.Args) > 6 {
		if err := json.Unmarshal([]byte(os.Args[6]), &caps); err != nil {
			fail(err)
		}
	}
	rt := &libcni.RuntimeConf{ContainerID: id, NetNS: netns, IfName: ifname, CapabilityArgs: caps}
	if args := os.Getenv("DRIVER_CNI_ARGS"); args != "" {
		for _, kv := range strings.Split(args, ";") {
			if p := strings.SplitN(kv, "=", 2); len(p) == 2 {
				rt.Args = append(rt.Args, [2]string{p[0], p[1]})
			}
		}
	}
	paths := filepath.SplitList(os.Getenv("CNI_PATH"))
	cache := os.Getenv("DRIVER_CACHE_DIR")
	cni := libcni.NewCNIConfigWithCacheDir(paths, cache, nil)
	ctx := context.Background()
	switch cmd {
	case "add":
		res, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail(err)
		}
		out, _ := json.Marshal(res)
		fmt.Println(string(out))
	case "check":
		if err := cni.CheckNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
	case "del":
		if err := cni.DelNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
	default:
		fail(fmt.Errorf("unknown command %s", cmd))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
