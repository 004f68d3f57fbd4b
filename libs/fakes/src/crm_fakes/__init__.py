"""Fakes of the services' contracts, for the tests of the services that call them: each is a
real gRPC server built from the proto (no service package imported), keeping its records in
memory and counting the calls it answered."""
