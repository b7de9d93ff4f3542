// Package search implements SearchService: persons across every record the
// node holds.
package search

import (
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/store"
)

// Server implements liaisonv1.SearchServiceServer.
type Server struct {
	liaisonv1.UnimplementedSearchServiceServer
	store  *store.Store
	agency string
}

var _ liaisonv1.SearchServiceServer = (*Server)(nil)

// New returns the search service of the node of agency.
func New(s *store.Store, agency string) *Server { return &Server{store: s, agency: agency} }
