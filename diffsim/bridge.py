"""Warp <-> PyTorch autograd bridge: the one mechanism every simulator uses.

``warp_apply(fn, *tensors, ...)`` runs a Warp computation inside a PyTorch graph.
``fn`` receives Warp arrays (zero-copy views of the input tensors) and returns a
tuple of Warp arrays it allocated itself (with ``requires_grad=True``). The call is
recorded on a ``wp.Tape``; PyTorch's backward seeds the outputs' gradients and
replays the tape in reverse.

Ownership rules (see Warp's PyTorch interop guide and GH-1732):

* every input that needs a gradient gets a dedicated, freshly zeroed torch buffer
  as its Warp ``.grad``; the buffer is cloned before it is handed to torch;
* outputs own their ``.grad`` buffers, so the incoming ``grad_output`` is *copied*
  into them (by torch, on its stream), never adopted or aliased;
* the tape is zeroed before every backward but the first (its gradients start at zero),
  so ``retain_graph=True`` and repeated use of the op in one graph give the same
  gradients each time;
* returned outputs are clones, so a caller mutating them cannot corrupt the tape.

``recompute=True`` is gradient checkpointing: the forward runs ``fn`` without a
tape and keeps only the inputs; backward re-runs ``fn`` under a tape. Chaining
such ops (``checkpointed_rollout``) bounds the memory of a T-step rollout to the
segment boundaries plus one segment's tape.

:class:`KernelOp` is the lean path for the commonest case, one per-row kernel
(a batched env step): no tape and no per-call Warp arrays. It keeps one set of
Warp buffers per batch size, copies the inputs in, replays a recorded forward
launch, and in backward replays a recorded adjoint launch on the saved inputs
(Warp's adjoint kernel recomputes the forward itself), so like ``recompute=True``
it holds only its inputs between forward and backward.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Sequence

import torch
import warp as wp

from diffsim import runtime

WarpFn = Callable[..., Sequence[wp.array]]


def _to_warp(t: torch.Tensor, dtype, grad_buffer: torch.Tensor | None) -> wp.array:
    if grad_buffer is None:
        return wp.from_torch(t, dtype=dtype, requires_grad=False)
    return wp.from_torch(t, dtype=dtype, requires_grad=True, grad=wp.from_torch(grad_buffer, dtype=dtype))


class _WarpOp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, fn, dtypes, recompute, *tensors):
        runtime.init()
        inputs = [t.detach().contiguous() for t in tensors]
        ctx.fn, ctx.dtypes, ctx.recompute = fn, dtypes, recompute
        if recompute or not any(ctx.needs_input_grad[3:]):  # no tape now (none at all if nothing needs grad)
            with torch.no_grad(), runtime.torch_stream(inputs[0].device):
                outs = fn(*[_to_warp(x, d, None) for x, d in zip(inputs, dtypes)])
            if recompute:
                ctx.save_for_backward(*inputs)
                ctx.out_dtypes = [o.dtype for o in outs]
            return tuple(wp.to_torch(o, requires_grad=False).clone() for o in outs)
        ctx.save_for_backward(*inputs)
        tape, grads, outs = _WarpOp._record(ctx, inputs)
        ctx.tape, ctx.grads, ctx.outs, ctx.fresh = tape, grads, outs, True
        return tuple(wp.to_torch(o, requires_grad=False).clone() for o in outs)

    @staticmethod
    def _record(ctx, inputs):
        needs = ctx.needs_input_grad[3:]
        grads = [torch.zeros_like(x) if n else None for x, n in zip(inputs, needs)]
        wp_inputs = [_to_warp(x, d, g) for x, d, g in zip(inputs, ctx.dtypes, grads)]
        tape = wp.Tape()
        with runtime.torch_stream(inputs[0].device), tape:
            outs = ctx.fn(*wp_inputs)
        for o in outs:
            if o.grad is None:
                raise RuntimeError("warp_apply: fn must allocate its outputs with requires_grad=True")
        return tape, grads, outs

    @staticmethod
    def backward(ctx, *grad_outputs):
        inputs = ctx.saved_tensors  # also checks that no input was modified in place
        if ctx.recompute:
            tape, grads, outs = _WarpOp._record(ctx, inputs)
        else:
            tape, grads, outs = ctx.tape, ctx.grads, ctx.outs
        fresh = ctx.recompute or ctx.fresh
        ctx.fresh = False
        if not fresh:  # a fresh tape's gradients are still all zero (Warp allocates them zeroed)
            tape.zero()
            for g in grads:
                if g is not None:
                    g.zero_()
        seeded = False
        for o, g in zip(outs, grad_outputs):
            if g is not None:  # copied by torch into the output's own (zeroed) gradient buffer
                wp.to_torch(o.grad, requires_grad=False).copy_(g.detach())
                seeded = True
        if seeded:
            with runtime.torch_stream(inputs[0].device):
                tape.backward()
        result = [g.clone() if g is not None else None for g in grads]
        if ctx.recompute:
            tape.reset()
        return (None, None, None, *result)


def warp_apply(fn: WarpFn, *tensors: torch.Tensor, dtypes: Sequence | None = None, recompute: bool = False):
    """Apply the Warp computation ``fn`` to torch tensors, differentiably.

    Args:
        fn: ``fn(*warp_arrays) -> tuple[wp.array, ...]``. It must launch only
            differentiable kernels (or differentiable ``wp.copy``), write every
            output element once, and allocate its outputs with ``requires_grad=True``
            on the inputs' device.
        tensors: torch tensors; any of them may require grad.
        dtypes: Warp dtype per input (``None`` entries keep the tensor's scalar
            type; a vector type such as ``wp.vec3d`` consumes the trailing dim).
        recompute: run the forward without a tape and re-run it under one in
            backward (checkpointing; trades one extra forward for memory).

    Returns:
        tuple of torch tensors, one per Warp output (vector outputs gain a
        trailing dimension), carrying gradients to ``tensors``.
    """
    if dtypes is None:
        dtypes = [None] * len(tensors)
    if len(dtypes) != len(tensors):
        raise ValueError(f"dtypes has {len(dtypes)} entries for {len(tensors)} tensors")
    return _WarpOp.apply(fn, tuple(dtypes), recompute, *tensors)


class _KernelBuffers:
    """Persistent Warp arrays (with gradients) of one :class:`KernelOp` at one batch size, their torch
    views, and the recorded forward and adjoint launches over them."""

    def __init__(self, op: "KernelOp", inputs: Sequence[torch.Tensor], batch: int, device: str):
        def alloc(dtype, shape):
            return wp.zeros(shape, dtype=dtype, device=device, requires_grad=True)

        ins = [alloc(d, batch if b else t.shape[0]) for d, b, t in zip(op.in_dtypes, op.batched, inputs)]
        outs = [alloc(d, batch) for d in op.out_dtypes]
        args = [*ins, *outs]
        self.inputs = [wp.to_torch(a, requires_grad=False) for a in ins]
        self.outputs = [wp.to_torch(a, requires_grad=False) for a in outs]
        self.in_grads = [wp.to_torch(a.grad, requires_grad=False) for a in ins]
        self.out_grads = [wp.to_torch(a.grad, requires_grad=False) for a in outs]
        self.holds = None  # the token of the forward call whose inputs the buffers hold
        self.forward = wp.launch(op.kernel, batch, inputs=args, device=device, record_tape=False, record_cmd=True)
        self.adjoint = wp.launch(op.kernel, batch, inputs=args, adj_inputs=[a.grad for a in args], adjoint=True,
                                 device=device, record_tape=False, record_cmd=True)

    @staticmethod
    def run(command, device) -> None:
        """Replay a recorded launch on torch's current stream (Warp records none for an empty batch)."""
        if command is not None:
            with runtime.torch_stream(device):
                command.launch()


class _KernelFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, op, *tensors):
        inputs = [t.detach() for t in tensors]
        ctx.op, ctx.token = op, object()
        ctx.save_for_backward(*inputs)
        with op.lock:
            bufs = op._load(inputs, ctx.token)
            bufs.run(bufs.forward, inputs[0].device)
            return tuple(o.clone() for o in bufs.outputs)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, *grad_outputs):
        op, inputs = ctx.op, ctx.saved_tensors
        with op.lock:
            bufs = op._load(inputs, ctx.token)  # the adjoint kernel replays the forward on these
            for buf, g in zip(bufs.out_grads, grad_outputs):
                if g is None:
                    buf.zero_()
                else:
                    buf.copy_(g)
            for g in bufs.in_grads:
                g.zero_()
            bufs.run(bufs.adjoint, inputs[0].device)
            return (None, *(g.clone() if need else None
                            for g, need in zip(bufs.in_grads, ctx.needs_input_grad[1:])))


class KernelOp:
    """One per-row Warp kernel as a differentiable torch function, without a tape.

    ``kernel(*inputs, *outputs)``: thread ``i`` reads row ``i`` of every batched input
    (and all of the shared ones) and writes row ``i`` of every output, each once.

    Args:
        kernel: a differentiable ``@wp.kernel``; its arguments are the inputs, then the outputs.
        in_dtypes: Warp dtype per input (a vector type consumes the tensor's trailing dim).
        out_dtypes: Warp dtype per output.
        batched: per input, whether it has the batch dimension (default: all do).

    Calling ``op(*tensors)`` (float64 or float32 as the dtypes say, any device Warp
    has) returns the outputs as new tensors, with gradients to every input that
    requires one. Buffers are kept per batch size (the last ``MAX_SIZES``); a lock
    makes concurrent calls safe. Backward once per graph (double backward is not
    supported).
    """

    MAX_SIZES = 4

    def __init__(self, kernel: wp.Kernel, in_dtypes: Sequence, out_dtypes: Sequence,
                 batched: Sequence[bool] | None = None):
        self.kernel, self.in_dtypes, self.out_dtypes = kernel, tuple(in_dtypes), tuple(out_dtypes)
        self.batched = tuple(batched) if batched is not None else (True,) * len(self.in_dtypes)
        if len(self.batched) != len(self.in_dtypes):
            raise ValueError(f"batched has {len(self.batched)} entries for {len(self.in_dtypes)} inputs")
        self.lock = threading.Lock()
        self._buffers: OrderedDict = OrderedDict()

    def _load(self, inputs, token) -> _KernelBuffers:
        """The buffers for these inputs' batch size and device, holding copies of the inputs (already so when
        the last call through them was the forward of ``token``: torch has checked the saved inputs are unchanged)."""
        batch = inputs[self.batched.index(True)].shape[0]
        key = (batch, str(inputs[0].device), *(t.shape for t, b in zip(inputs, self.batched) if not b))
        bufs = self._buffers.get(key)
        if bufs is None:
            runtime.init()
            bufs = _KernelBuffers(self, inputs, batch, runtime.resolve_device(str(inputs[0].device)))
            self._buffers[key] = bufs
            if len(self._buffers) > self.MAX_SIZES:
                self._buffers.popitem(last=False)
        else:
            self._buffers.move_to_end(key)
            if bufs.holds is token:
                return bufs
        bufs.holds = token
        for k, (buf, t) in enumerate(zip(bufs.inputs, inputs)):
            if buf.shape != t.shape:
                raise ValueError(f"{self.kernel.key}: input {k} must have shape {tuple(buf.shape)} "
                                 f"(as its Warp dtype and the batch say), got {tuple(t.shape)}")
            buf.copy_(t)
        return bufs

    def __call__(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if len(tensors) != len(self.in_dtypes):
            raise ValueError(f"{self.kernel.key} takes {len(self.in_dtypes)} tensors, got {len(tensors)}")
        return _KernelFn.apply(self, *tensors)


def checkpointed_rollout(step: Callable, state: tuple, num_steps: int, segment_length: int | None = None):
    """Chain ``num_steps`` applications of a differentiable ``step`` with bounded memory.

    ``step(k, *state) -> (*next_state, *per_step_outputs)`` is a torch-level step
    (for instance one built with ``warp_apply``), where ``state`` is a tuple of
    tensors. The rollout is split into segments of ``segment_length`` steps
    (default ``ceil(sqrt(num_steps))``); each segment is wrapped in
    ``torch.utils.checkpoint``, so only segment-boundary states are kept and each
    segment's graph is rebuilt during backward.

    Returns ``(final_state, outputs)`` where ``outputs`` is a list (one entry per
    step) of tuples of per-step outputs.
    """
    import math

    from torch.utils.checkpoint import checkpoint

    if num_steps < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}")
    if segment_length is None:
        segment_length = max(1, math.isqrt(max(num_steps, 1)))
    if segment_length < 1:
        raise ValueError(f"segment_length must be >= 1, got {segment_length}")
    n_state = len(state)

    def run_segment(k0, k1, *s):
        outs = []
        for k in range(k0, k1):
            res = step(k, *s)
            s, extra = tuple(res[:n_state]), tuple(res[n_state:])
            outs.append(extra)
        flat = [x for extra in outs for x in extra]
        return (*s, *flat)

    outputs: list[tuple] = []
    for k0 in range(0, num_steps, segment_length):
        k1 = min(num_steps, k0 + segment_length)
        res = checkpoint(run_segment, k0, k1, *state, use_reentrant=False)
        state = tuple(res[:n_state])
        flat = res[n_state:]
        per = len(flat) // (k1 - k0) if k1 > k0 else 0
        outputs.extend(tuple(flat[i * per:(i + 1) * per]) for i in range(k1 - k0))
    return state, outputs
