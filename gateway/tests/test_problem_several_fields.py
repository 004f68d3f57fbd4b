"""A backend naming several bad fields (crm-error-details {"errors": [...]}) gets all of them in the 400."""
from __future__ import annotations

import json

import grpc

from crm_gateway.problems import from_rpc_error
from crmkit.errors import ERROR_DETAILS_KEY, ERROR_FIELD_KEY


class _Refused(grpc.RpcError):
    def __init__(self, trailers: tuple[tuple[str, str], ...]) -> None:
        self._trailers = trailers

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.INVALID_ARGUMENT

    def details(self) -> str:
        return "emails[1]: bad; phones[0]: bad"

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._trailers


def test_every_listed_field_is_named() -> None:
    listed = {"errors": [{"field": "emails[1]", "message": "bad email"}, {"field": "phones[0]", "message": "bad phone"}]}
    problem = from_rpc_error(_Refused(((ERROR_DETAILS_KEY, json.dumps(listed)), (ERROR_FIELD_KEY, "emails[1]"))))
    assert problem.status == 400
    assert [(e.field, e.message) for e in problem.errors] == [("emails[1]", "bad email"), ("phones[0]", "bad phone")]


def test_one_field_without_a_list_is_still_named() -> None:
    problem = from_rpc_error(_Refused(((ERROR_DETAILS_KEY, "{}"), (ERROR_FIELD_KEY, "name"))))
    assert [e.field for e in problem.errors] == ["name"]
