"""Every route's dependencies run on the event loop: FastAPI calls a plain ``def`` or a class dependency in its
thread pool, a thread hop (and a wait for a free thread) on every request that uses it."""

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute


def _api_routes(router) -> list[APIRoute]:
    out: list[APIRoute] = []
    for route in router.routes:
        inner = getattr(route, "original_router", None)  # an included router (FastAPI builds them lazily)
        if inner is not None:
            out += _api_routes(inner)
        elif isinstance(route, APIRoute):
            out.append(route)
    return out


def _sync_dependencies(dependant: Dependant) -> set[str]:
    from fastapi.dependencies.models import _is_async_gen_callable, _is_coroutine_callable

    found = set()
    for sub in dependant.dependencies:
        if sub.call is not None and not (_is_coroutine_callable(sub.call) or _is_async_gen_callable(sub.call)):
            found.add(getattr(sub.call, "__qualname__", repr(sub.call)))
        found |= _sync_dependencies(sub)
    return found


def test_no_dependency_runs_in_the_thread_pool(app):
    routes = _api_routes(app.router)
    assert len(routes) > 100  # every domain's API and pages
    offenders = {route.path: sorted(_sync_dependencies(route.dependant)) for route in routes}
    assert {path: deps for path, deps in offenders.items() if deps} == {}


async def test_query_parameter_classes_still_check_their_values(admin_client):
    """``deps.query_params`` keeps FastAPI's validation: a bad value is a 422 naming the parameter."""
    r = await admin_client.get("/api/keywords/timeline", params={"department": "internal_medicine", "age": 500})
    assert r.status_code == 422 and "age" in r.text
    r = await admin_client.get("/api/personas", params={"per_page": 0})
    assert r.status_code == 422 and "per_page" in r.text
    r = await admin_client.get("/api/keywords/timeline", params={"department": "internal_medicine",
                                                                  "gender": "male", "age": 45})
    assert r.status_code == 200 and r.json()["filters"]["age_band"] == "40s"
