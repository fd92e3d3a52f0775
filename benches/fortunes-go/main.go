// Command fortunes-go serves fortunes.v1.FortuneService with connect-go, the
// reference ConnectRPC implementation (Connect, gRPC and gRPC-Web on one
// port, h2c), for the fortunes benchmark (benches/fortunes.sh).
//
//	fortunes-go <port> <redis host:port>
//
// It exits when its stdin reaches its end.
//
// Each call reads the 12 fortunes of the hash "fortunes" with one HGETALL
// through go-redis (a pool of 8 connections), adds one, sorts them by
// message and answers all 13, as the Rust servers do.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sort"
	"strconv"

	"connectrpc.com/connect"
	"github.com/redis/go-redis/v9"

	fortunesv1 "fortunesbench/gen/fortunes/v1"
	"fortunesbench/gen/fortunes/v1/fortunesv1connect"
)

const extraMessage = "Additional fortune added at request time."

type server struct {
	redis *redis.Client
}

func (s *server) GetFortunes(
	ctx context.Context,
	_ *connect.Request[fortunesv1.FortunesRequest],
) (*connect.Response[fortunesv1.FortunesResponse], error) {
	stored, err := s.redis.HGetAll(ctx, "fortunes").Result()
	if err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, err)
	}
	fortunes := make([]*fortunesv1.Fortune, 0, len(stored)+1)
	for id, message := range stored {
		n, err := strconv.ParseInt(id, 10, 32)
		if err != nil {
			return nil, connect.NewError(connect.CodeInternal, err)
		}
		fortunes = append(fortunes, &fortunesv1.Fortune{Id: int32(n), Message: message})
	}
	fortunes = append(fortunes, &fortunesv1.Fortune{Id: 0, Message: extraMessage})
	sort.Slice(fortunes, func(i, j int) bool { return fortunes[i].Message < fortunes[j].Message })
	return connect.NewResponse(&fortunesv1.FortunesResponse{Fortunes: fortunes}), nil
}

func main() {
	if len(os.Args) != 3 {
		log.Fatal("usage: fortunes-go <port> <redis host:port>")
	}
	port, redisAddr := os.Args[1], os.Args[2]
	// Exit when stdin reaches its end: the benchmark driver holds the other
	// end of a pipe, so the server never outlives it.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	client := redis.NewClient(&redis.Options{Addr: redisAddr, PoolSize: 8, MinIdleConns: 8})
	if err := client.Ping(context.Background()).Err(); err != nil {
		log.Fatalf("redis %s: %v", redisAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle(fortunesv1connect.NewFortuneServiceHandler(&server{redis: client}))
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Addr: fmt.Sprintf("127.0.0.1:%s", port), Handler: mux, Protocols: protocols}
	log.Fatal(srv.ListenAndServe())
}
