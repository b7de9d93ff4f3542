package interceptors

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/liaison-exchange/liaison/server/validate"
)

func (c *chain) unaryValidate(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if m, ok := req.(proto.Message); ok {
		if err := c.o.Validator.Validate(m, ""); err != nil {
			return nil, err
		}
	}
	return h(ctx, req)
}

func (c *chain) streamValidate(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	return h(srv, &validatingStream{ServerStream: ss, v: c.o.Validator})
}

type validatingStream struct {
	grpc.ServerStream
	v *validate.Validator
}

func (s *validatingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if pm, ok := m.(proto.Message); ok {
		return s.v.Validate(pm, "")
	}
	return nil
}
