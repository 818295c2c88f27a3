"""Experts and critics served by Ray: one copy of each model, shared by every env runner.

Why: with real models, each env process loading its own diffusion pipelines and VLM does not
fit in memory once there are several env runners (RLlib, ``poser eval --ray``). Here a model
lives in one Ray actor, a *server*, and every env anywhere in the Ray cluster calls it.

- :class:`ModelServer` (the actor) hosts components built from ordinary registry specs (a
  :class:`~poser_env.experts.diffusion.DiffusersExpert`, a VLM critic, any expert or
  critic), in one process with one :class:`~poser_env.backends.pool.ModelPool`, so experts over
  the same base checkpoint (T2I, img2img, inpainting through ``from_pipe``) still share it.
  It asks Ray for ``num_cpus`` and ``num_gpus`` (fractional: 0.25 lets four servers share a GPU).
- :class:`ServedExpert` and :class:`ServedCritic` stand in the env's registry for a hosted
  component, by server name. A server is named after what it hosts (plus an optional prefix),
  so the first env to need it starts it (``get_if_exists``) and every other one, in any
  process, reuses it.

Same results as in-process: the env's generator travels with each call (its state goes to the
server, the server runs the expert with a generator in that state, and the advanced state comes
back into the env's generator), so a seeded episode draws exactly the numbers it draws when the
expert runs in the env's own process, and makes the same images on the same device.

Faults are failed steps, never crashed episodes: a call slower than ``timeout_s`` or a server
that dies raises :class:`ServedCallError`, which the env turns into a failed step with
``info["error"]``; a server that timed out is killed and Ray restarts it (``max_restarts``), as
it restarts one that died.

Request batching (``max_batch_size`` > 1, off by default): the server is an async actor that
groups the requests for one component arriving within ``batch_wait_timeout_s`` (the names of
Ray Serve's ``@serve.batch``) into one call: a component with a batched path
(``call_batch`` / ``critique_batch``: the diffusers experts, the VLM critic) runs the whole
batch in one pipeline or model call, any other runs the batch's requests one after another.
Each request keeps its own generator; a request that fails inside a batch fails only itself
(the batch is run again one request at a time when the batched call raises). Models run in one
thread, one batch at a time, while new requests queue up for the next batch.

A preset serves its experts and critic with a ``[serving]`` table (see docs/scaling.md); a
registry entry can name a running server directly::

    {"name": "sd-t2i", "entry_point": "poser_env.backends.serving:ServedExpert",
     "kwargs": {"server": "my-experts", "modality": "t2i", "cost": 1.0}}

About 500 lines: the settings, the server actor with its batching, and the two proxies
(``ServedExpert``, ``ServedCritic``) are one protocol (what a request carries, how a
generator state travels and comes back, what a restart means): kept in one file so that
both ends change together.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from poser_env.critics.base import Critic
from poser_env.experts.base import KindAlias, call_expert, expert_modality
from poser_env.registry import ComponentSpec, RegistryError, build
from poser_env.types import Canvas, Check, Command, Verdict

NAMESPACE = "imageposer"
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


class ServedCallError(RuntimeError):
    """A served component did not answer (timeout, or its server died); the env records a failed step."""


@dataclass(frozen=True)
class ServingConfig:
    """How components are served (the ``[serving]`` table of a preset, or ``serving=`` kwargs)."""

    timeout_s: float = 300.0
    """A call slower than this is a failed step, and its server is restarted. It counts from the
    request, so it includes the model's first loading and the wait behind other env runners'
    requests (a server runs one batch at a time): leave room for both."""
    start_timeout_s: float = 600.0
    """How long a new or restarting server may take to come up before a call is sent to it."""
    num_cpus: float = 1.0
    """CPUs each server asks Ray for (0 lets servers share CPUs with env runners)."""
    num_gpus: float = 0.0
    """GPUs each server asks Ray for; a fraction shares one GPU between servers (Ray does not cap memory: size it)."""
    max_restarts: int = 3
    """How often Ray restarts a server that died or timed out (-1: always)."""
    prefix: str = "imageposer"
    """Start of the server names, to tell apart the servers of different users of one cluster."""
    max_batch_size: int = 1
    """Requests for one component that a server groups into one call (1: no batching). A larger
    batch uses more accelerator memory: a batch of 8 diffusion calls holds 8 images' activations."""
    batch_wait_timeout_s: float = 0.01
    """How long the first request of a batch waits for others before the batch runs: the latency
    a lone request pays for batching (0: take what is queued, wait for nothing)."""

    def __post_init__(self) -> None:
        if not (float(self.timeout_s) > 0 and float(self.start_timeout_s) > 0):
            raise ValueError(
                f"serving timeout_s and start_timeout_s must be positive, got {self.timeout_s!r}, {self.start_timeout_s!r}"
            )
        if float(self.num_cpus) < 0 or float(self.num_gpus) < 0:
            raise ValueError(f"serving num_cpus and num_gpus must be >= 0, got {self.num_cpus!r}, {self.num_gpus!r}")
        if not isinstance(self.prefix, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,40}", self.prefix):
            raise ValueError(f"serving prefix must be 1 to 41 letters, digits, '_', '.' or '-', got {self.prefix!r}")
        if isinstance(self.max_restarts, bool) or not isinstance(self.max_restarts, int) or self.max_restarts < -1:
            raise ValueError(f"serving max_restarts must be an int >= -1, got {self.max_restarts!r}")
        if (
            isinstance(self.max_batch_size, bool)
            or not isinstance(self.max_batch_size, int)
            or not 1 <= self.max_batch_size <= 256
        ):
            raise ValueError(f"serving max_batch_size must be an int from 1 to 256, got {self.max_batch_size!r}")
        if not 0 <= float(self.batch_wait_timeout_s) <= 60:
            raise ValueError(
                f"serving batch_wait_timeout_s must lie in [0, 60] seconds, got {self.batch_wait_timeout_s!r}"
            )

    @classmethod
    def coerce(cls, cfg: ServingConfig | Mapping[str, Any] | None) -> ServingConfig:
        if cfg is None:
            return cls()
        if isinstance(cfg, ServingConfig):
            return cfg
        known = {f.name for f in fields(cls)}
        unknown = set(cfg) - known
        if "address" in unknown:
            raise ValueError(
                "a Ray address is the caller's choice, never a setting: connect first "
                "(poser_agents.distributed.init_ray(address=...) or ray.init), then build the env"
            )
        if unknown:
            raise ValueError(f"unknown serving setting(s) {sorted(unknown)}; allowed: {', '.join(sorted(known))}")
        return cls(**dict(cfg))


# ---------------------------------------------------------------------------------------------
# The server (a Ray actor class; plain Python until ray.remote wraps it)


class ModelServer:
    """Hosts components built from registry specs; built lazily, at their first call.

    An async actor: ``expert`` and ``critique`` queue their request and await its result, so
    requests from many env runners can be grouped (see the module docstring); the models run in
    one worker thread, one batch at a time."""

    def __init__(
        self, specs: Mapping[str, Mapping[str, Any]], max_batch_size: int = 1, batch_wait_timeout_s: float = 0.0
    ):
        from concurrent.futures import ThreadPoolExecutor

        self.specs = {name: ComponentSpec.coerce(s) for name, s in specs.items()}
        self.max_batch_size, self.batch_wait_timeout_s = int(max_batch_size), float(batch_wait_timeout_s)
        self._built: dict[str, Any] = {}
        self._queues: dict[tuple[str, str], list[tuple[tuple, Any]]] = {}
        self._full: dict[tuple[str, str], Any] = {}
        self._models = ThreadPoolExecutor(max_workers=1, thread_name_prefix="models")
        self.calls = 0
        self.batch_sizes: dict[int, int] = {}  # batch size -> batches run, for stats()

    def _component(self, name: str) -> Any:
        if name not in self._built:
            if name not in self.specs:
                raise RegistryError(f"this server hosts {sorted(self.specs)}, not {name!r}")
            spec = self.specs[name]
            # Experts take their registry name; critics name themselves in their kwargs.
            self._built[name] = build(spec, name=spec.name) if "name" not in spec.kwargs else build(spec)
        return self._built[name]

    def ping(self) -> int:
        """The server's process id (a restarted server has a new one)."""
        return os.getpid()

    async def _in_model_thread(self, fn: Any, *args: Any) -> Any:
        """Run ``fn`` in the thread the models run in (a model is never used by two threads)."""
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(self._models, fn, *args)

    async def ready(self, name: str) -> int:
        """Build component ``name`` now (loading a model is start-up, not a call); the process id."""
        await self._in_model_thread(self._component, name)
        return os.getpid()

    def stats(self) -> dict[str, Any]:
        """Process id, components built, calls answered and how many batches of each size ran
        (to see that env runners share the server, and how much batching happened)."""
        return {
            "pid": os.getpid(),
            "built": sorted(self._built),
            "calls": self.calls,
            "batch_sizes": dict(self.batch_sizes),
        }

    async def describe(self, name: str) -> dict[str, Any]:
        c = await self._in_model_thread(self._component, name)
        info = {k: getattr(c, k) for k in ("cost", "description", "model_id", "scores_commands") if hasattr(c, k)}
        if hasattr(c, "cost"):  # an expert
            info["modality"] = expert_modality(c)
        return info

    async def expert(
        self, name: str, instruction: str, canvas: Canvas | None, rng_state: dict, reflection: str = ""
    ) -> tuple[Canvas, dict]:
        if rng_state.get("bit_generator") not in _BIT_GENERATORS:
            raise ValueError(
                f"unknown bit generator {rng_state.get('bit_generator')!r}; allowed: {', '.join(_BIT_GENERATORS)}"
            )
        return await self._submit(("expert", name), (instruction, canvas, rng_state, reflection))

    async def critique(
        self, name: str, canvas: Canvas, checks: Sequence[Check], commands: Sequence[Command] | None
    ) -> Verdict:
        return await self._submit(("critique", name), (canvas, list(checks), commands))

    async def preload(self, name: str) -> None:
        preload = getattr(await self._in_model_thread(self._component, name), "preload", None)
        if callable(preload):
            await self._in_model_thread(preload)

    # -- batching ------------------------------------------------------------------------

    async def _submit(self, key: tuple[str, str], request: tuple) -> Any:
        """Queue ``request``; the first request of a batch waits for more, then runs them all."""
        import asyncio

        loop = asyncio.get_running_loop()
        future = loop.create_future()
        queue = self._queues.setdefault(key, [])
        queue.append((request, future))
        if len(queue) == 1:
            self._full[key] = asyncio.Event()
            loop.create_task(self._run_when_ready(key))
        if len(queue) >= self.max_batch_size:
            self._full[key].set()
        return await future

    async def _run_when_ready(self, key: tuple[str, str]) -> None:
        import asyncio

        if self.max_batch_size > 1 and self.batch_wait_timeout_s > 0:
            try:
                await asyncio.wait_for(self._full[key].wait(), self.batch_wait_timeout_s)
            except asyncio.TimeoutError:
                pass
        queue = self._queues.pop(key)
        self._full.pop(key, None)
        for start in range(0, len(queue), self.max_batch_size):
            batch = queue[start : start + self.max_batch_size]
            try:
                outs = await self._in_model_thread(self._run_batch, key, [r for r, _ in batch])
            except BaseException as e:  # building the component failed: every request of the batch gets the error
                outs = [e] * len(batch)
            for (_, future), out in zip(batch, outs):
                if not future.done():
                    future.set_exception(out) if isinstance(out, BaseException) else future.set_result(out)

    def _run_batch(self, key: tuple[str, str], requests: list[tuple]) -> list[Any]:
        """One result or exception per request, in order (runs in the model thread)."""
        method, name = key
        component = self._component(name)
        self.calls += len(requests)
        self.batch_sizes[len(requests)] = self.batch_sizes.get(len(requests), 0) + 1
        if method == "expert":
            return self._experts(component, requests)
        return self._critiques(component, requests)

    @staticmethod
    def _experts(expert: Any, requests: list[tuple]) -> list[Any]:
        def rngs() -> list[np.random.Generator]:
            out = []
            for _, _, state, _ in requests:
                rng = np.random.Generator(getattr(np.random, state["bit_generator"])())
                rng.bit_generator.state = state
                out.append(rng)
            return out

        batched = getattr(expert, "call_batch", None)
        if len(requests) > 1 and callable(batched):
            gens = rngs()
            try:
                if any(r[3] for r in requests):
                    outs = batched(
                        [r[0] for r in requests], [r[1] for r in requests], gens, reflections=[r[3] for r in requests]
                    )
                else:  # an out-of-tree call_batch may not take reflections
                    outs = batched([r[0] for r in requests], [r[1] for r in requests], gens)
                return [o if isinstance(o, BaseException) else (o, g.bit_generator.state) for o, g in zip(outs, gens)]
            except Exception:  # the batched call failed as a whole: one call each, so a bad request fails only itself
                pass
        results: list[Any] = []
        for (instruction, canvas, _, reflection), rng in zip(requests, rngs()):
            try:
                results.append((call_expert(expert, instruction, canvas, rng, reflection), rng.bit_generator.state))
            except Exception as e:
                results.append(e)
        return results

    @staticmethod
    def _critiques(critic: Any, requests: list[tuple]) -> list[Any]:
        def one(canvas: Canvas, checks: list[Check], commands: Sequence[Command] | None) -> Verdict:
            if commands is not None and critic.scores_commands:
                return critic.critique(canvas, checks, commands=commands)
            return critic.critique(canvas, checks)

        batched = getattr(critic, "critique_batch", None)
        if (
            len(requests) > 1
            and callable(batched)
            and (not critic.scores_commands or all(c is None for _, _, c in requests))
        ):
            try:
                return list(batched([r[0] for r in requests], [r[1] for r in requests]))
            except Exception:  # one critique each, so a bad request fails only itself
                pass
        results: list[Any] = []
        for canvas, checks, commands in requests:
            try:
                results.append(one(canvas, checks, commands))
            except Exception as e:
                results.append(e)
        return results


def server_name(specs: Mapping[str, Mapping[str, Any]], prefix: str = "imageposer") -> str:
    """A name fixed by what a server hosts: the same specs anywhere give the same server."""
    blob = json.dumps({k: ComponentSpec.coerce(v).to_dict() for k, v in specs.items()}, sort_keys=True, default=str)
    return f"{prefix}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def _ray() -> Any:
    """Ray as the caller connected it; a new local instance if the process has none.

    The address is never read from a preset or a spec: joining a cluster means unpickling what
    it sends back, so only the caller may choose one (connect before building the env)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise RegistryError("served experts and critics need Ray: pip install 'imageposer[ray]'") from None
    if not ray.is_initialized():
        ray.init(address="local", namespace=NAMESPACE, include_dashboard=False)
    return ray


def get_server(name: str, specs: Mapping[str, Mapping[str, Any]] | None = None, serving: Any = None) -> Any:
    """The handle of server ``name``; with ``specs``, started if nobody has started it yet."""
    cfg = ServingConfig.coerce(serving)
    ray = _ray()
    if specs is None:
        try:
            return ray.get_actor(name, namespace=NAMESPACE)
        except ValueError:
            raise RegistryError(
                f"no served component {name!r} is running in Ray namespace {NAMESPACE!r}; start it with "
                f"poser_env.backends.serving.start_server({name!r}, specs)"
            ) from None
    # An async actor: many requests in flight (queued for batching), models run one batch at a time.
    return (
        ray.remote(ModelServer)
        .options(
            name=name,
            namespace=NAMESPACE,
            get_if_exists=True,
            lifetime="detached",
            num_cpus=cfg.num_cpus,
            num_gpus=cfg.num_gpus,
            max_restarts=cfg.max_restarts,
            max_task_retries=0,
            max_concurrency=max(64, 4 * cfg.max_batch_size),
        )
        .remote(dict(specs), cfg.max_batch_size, cfg.batch_wait_timeout_s)
    )


def start_server(name: str, specs: Mapping[str, Mapping[str, Any]], serving: Any = None) -> Any:
    """Start (or find) a server ``name`` hosting ``specs`` (component name -> registry spec)."""
    return get_server(name, specs, serving)


class _Proxy:
    """What ServedExpert and ServedCritic share: finding the server, calling it with a deadline."""

    def __init__(
        self, component: str, server: str | None, hosted: Mapping[str, Mapping[str, Any]] | None, serving: Any
    ):
        self.serving = ServingConfig.coerce(serving)
        self.hosted = dict(hosted) if hosted else None
        if server is None and not self.hosted:
            raise RegistryError(f"served component {component!r} needs a server name or the specs it hosts")
        self.server = server or server_name(self.hosted or {}, self.serving.prefix)
        self.component = component
        self._handle = None
        self._up = False  # the server answered a ping since it was (re)started
        self.failures = 0

    def handle(self) -> Any:
        if self._handle is None:
            self._handle = get_server(self.server, self.hosted, self.serving)
        return self._handle

    def _wait_up(self, ray: Any, handle: Any) -> None:
        """Wait until the server answers with this component built: a restarting actor is
        "unavailable" for a moment, and building (loading a model) counts as start-up, so it
        runs under ``start_timeout_s``, never under a call's ``timeout_s``."""
        import time

        from ray.exceptions import ActorUnavailableError, GetTimeoutError

        deadline = time.monotonic() + self.serving.start_timeout_s
        while True:
            try:
                ray.get(handle.ready.remote(self.component), timeout=max(0.1, deadline - time.monotonic()))
                self._up = True
                return
            except ActorUnavailableError:
                if time.monotonic() > deadline:
                    raise GetTimeoutError(f"server {self.server} still unavailable") from None
                time.sleep(0.2)

    def call(self, method: str, *args: Any) -> Any:
        from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

        ray = _ray()
        what = f"served {self.component!r} (server {self.server})"
        try:
            handle = self.handle()
            if not self._up:  # a server starting or restarting: its start-up is not the call's time
                self._wait_up(ray, handle)
            ref = getattr(handle, method).remote(self.component, *args)
        except (GetTimeoutError, RayActorError) as e:
            self._handle = None  # ask Ray for the server again next time
            self.failures += 1
            raise ServedCallError(
                f"{what} did not come up within {self.serving.start_timeout_s:g} s ({type(e).__name__})"
            ) from None
        except RayTaskError as e:  # building the component raised: pass its own error on
            raise e.as_instanceof_cause() from None
        try:
            return ray.get(ref, timeout=self.serving.timeout_s)
        except GetTimeoutError:
            # A stuck model would block every later call: kill the server and let Ray restart it.
            ray.kill(handle, no_restart=False)
            self._up, self.failures = False, self.failures + 1
            raise ServedCallError(
                f"{what} did not answer within {self.serving.timeout_s:g} s; its server is being restarted"
            ) from None
        except RayActorError as e:
            self._up, self.failures = False, self.failures + 1
            raise ServedCallError(
                f"{what}: its server died ({type(e).__name__}); Ray restarts it for the next call"
            ) from None
        except RayTaskError as e:  # the component itself raised: pass its own error on
            raise e.as_instanceof_cause() from None


class ServedExpert(KindAlias):
    """An env expert whose model runs in a Ray server (see the module docstring).

    ``server`` names a running server; ``hosted`` (component name -> registry spec) lets the
    first caller start it. ``modality``, ``cost`` and ``description`` default to the hosted
    component's own (``kind`` is the deprecated name of ``modality``)."""

    def __init__(
        self,
        name: str,
        server: str | None = None,
        hosted: Mapping[str, Mapping[str, Any]] | None = None,
        component: str | None = None,
        modality: str | None = None,
        cost: float | None = None,
        description: str = "",
        serving: ServingConfig | Mapping[str, Any] | None = None,
        kind: str | None = None,
    ):
        self.name = name
        self._proxy = _Proxy(component or name, server, hosted, serving)
        modality = modality if modality is not None else kind
        if modality is None or cost is None:
            info = self._proxy.call("describe")
            modality = info.get("modality", info.get("kind")) if modality is None else modality
            cost = info["cost"] if cost is None else cost
            description = description or info.get("description", "")
        self.modality, self.cost = modality, float(cost)
        self.description = description or f"served by Ray ({self._proxy.server})"

    def __repr__(self) -> str:
        return f"ServedExpert({self.name!r}, server={self._proxy.server!r})"

    @property
    def server(self) -> str:
        return self._proxy.server

    def __call__(
        self, instruction: str, canvas: Canvas | None, rng: np.random.Generator, reflection: str = ""
    ) -> Canvas:
        out, state = self._proxy.call("expert", instruction, canvas, rng.bit_generator.state, reflection)
        rng.bit_generator.state = state
        return out


class ServedCritic(Critic):
    """The env's critic, served by Ray (see the module docstring)."""

    def __init__(
        self,
        name: str = "critic",
        server: str | None = None,
        hosted: Mapping[str, Mapping[str, Any]] | None = None,
        component: str | None = None,
        model_id: str = "",
        scores_commands: bool = False,
        serving: ServingConfig | Mapping[str, Any] | None = None,
    ):
        self.name = name
        self._proxy = _Proxy(component or name, server, hosted, serving)
        self.model_id = model_id
        self.scores_commands = bool(scores_commands)

    @property
    def server(self) -> str:
        return self._proxy.server

    def preload(self) -> None:
        self._proxy.call("preload")

    def critique(self, canvas: Canvas, checks: Sequence[Check], commands: Sequence[Command] | None = None) -> Verdict:
        return self._proxy.call("critique", canvas, list(checks), list(commands) if commands is not None else None)


# ---------------------------------------------------------------------------------------------
# Presets: the [serving] table


def serve_components(
    env_kwargs: dict[str, Any], serving: Mapping[str, Any], where: str = "[serving]"
) -> dict[str, Any]:
    """Env kwargs with the experts (one server per base model, shared by the experts over it)
    and the critic replaced by their served stand-ins. ``serving`` may hold ``experts`` and
    ``critic`` (bool, default true) besides the :class:`ServingConfig` fields."""
    table = dict(serving)
    serve_experts = table.pop("experts", True)
    serve_critic = table.pop("critic", True)
    if not isinstance(serve_experts, bool) or not isinstance(serve_critic, bool):
        raise RegistryError(f"{where}: experts and critic must be true or false")
    try:
        cfg = ServingConfig.coerce(table)
    except (TypeError, ValueError) as e:
        raise RegistryError(f"{where}: {e}") from None
    plain = asdict(cfg)
    out = dict(env_kwargs)
    if serve_experts:
        groups: dict[str, dict[str, Any]] = {}
        for spec in env_kwargs["experts"]:
            model = spec["kwargs"].get("model", {})
            key = model.get("path", spec["name"]) if isinstance(model, Mapping) else spec["name"]
            groups.setdefault(key, {})[spec["name"]] = spec
        served = []
        for spec in env_kwargs["experts"]:
            group = next(g for g in groups.values() if spec["name"] in g)
            kw = spec["kwargs"]
            modality = "t2i" if kw.get("task") == "t2i" else "i2i" if "task" in kw else None
            served.append(
                {
                    "name": spec["name"],
                    "entry_point": "poser_env.backends.serving:ServedExpert",
                    "kwargs": {
                        "hosted": group,
                        "modality": modality,
                        "cost": kw.get("cost", 1.0) if modality else None,
                        "description": kw.get("description", ""),
                        "serving": plain,
                    },
                }
            )
        out["experts"] = served
    if serve_critic:
        critic = env_kwargs["critic"]
        model = critic["kwargs"].get("model", {})
        name = critic["kwargs"].get("name", critic["name"])
        out["critic"] = {
            "name": critic["name"],
            "entry_point": "poser_env.backends.serving:ServedCritic",
            "kwargs": {
                "name": name,
                "hosted": {name: critic},
                "serving": plain,
                "model_id": model.get("path", "") if isinstance(model, Mapping) else "",
                "scores_commands": critic["kwargs"].get("mode") == "command",
            },
        }
    return out


__all__ = [
    "ModelServer",
    "ServedCallError",
    "ServedCritic",
    "ServedExpert",
    "ServingConfig",
    "get_server",
    "serve_components",
    "server_name",
    "start_server",
]
