"""envs.pcg64: NumPy's PCG64 stream reproduced in a Warp kernel, bit for bit."""
import numpy as np
import pytest
import warp as wp

from envs.pcg64 import (
    ZIG_F,
    ZIG_K,
    ZIG_W,
    ZIGGURAT_R,
    export_states,
    next_double,
    standard_normal,
    standard_normal_host,
)


@wp.kernel
def _draw(rng: wp.array2d(dtype=wp.uint64), out: wp.array2d(dtype=wp.float64)):
    i = wp.tid()
    for k in range(out.shape[1]):
        out[i, k] = next_double(rng, i)


def test_doubles_and_states_equal_numpy_generators():
    seeds = [0, 1, 5, 12345, 2 ** 40, 2 ** 63 + 7]
    gens = [np.random.default_rng(s) for s in seeds]
    gens[2].random(3)  # a generator part-way through its stream
    rng = wp.array(export_states(gens), dtype=wp.uint64, device="cpu")
    out = wp.zeros((len(seeds), 2000), dtype=wp.float64, device="cpu")
    wp.launch(_draw, len(seeds), inputs=[rng, out], device="cpu")
    np.testing.assert_array_equal(out.numpy(), np.stack([g.random(2000) for g in gens]))
    np.testing.assert_array_equal(rng.numpy(), export_states(gens))  # and the states moved on alike


def test_export_refuses_other_bit_generators():
    with pytest.raises(TypeError, match="PCG64"):
        export_states([np.random.Generator(np.random.MT19937(0))])


@wp.kernel
def _normals(rng: wp.array2d(dtype=wp.uint64), zk: wp.array(dtype=wp.uint64), zw: wp.array(dtype=wp.float64),
             zf: wp.array(dtype=wp.float64), out: wp.array2d(dtype=wp.float64)):
    i = wp.tid()
    for k in range(out.shape[1]):
        out[i, k] = standard_normal(rng, i, zk, zw, zf)


def test_normals_follow_numpys_ziggurat_and_the_kernel_equals_the_host():
    """The kernel's normals equal the host version's bit for bit and NumPy's ``standard_normal`` to 1e-13 relative
    (tables computed here, not NumPy's compiled ones), with every stream advanced exactly as NumPy's: the wedge and
    tail branches (|x| > 3.65, ~3 in 10 000 draws) included."""
    seeds, n = [0, 3, 99, 2 ** 33 + 1, 77, 123456], 20000
    gens = [np.random.default_rng(s) for s in seeds]
    rng = wp.array(export_states(gens), dtype=wp.uint64, device="cpu")
    tables = [wp.array(t, device="cpu") for t in (ZIG_K, ZIG_W, ZIG_F)]
    out = wp.zeros((len(seeds), n), dtype=wp.float64, device="cpu")
    wp.launch(_normals, len(seeds), inputs=[rng, *tables, out], device="cpu")
    ours = out.numpy()
    hosts = [np.random.PCG64(s) for s in seeds]
    host = np.array([[standard_normal_host(h) for _ in range(n)] for h in hosts])
    np.testing.assert_array_equal(ours, host)
    ref = np.stack([g.standard_normal(n) for g in gens])
    np.testing.assert_allclose(ours, ref, rtol=1e-13, atol=0)
    np.testing.assert_array_equal(rng.numpy(), export_states(gens))  # the same number of raw draws
    np.testing.assert_array_equal(export_states([np.random.Generator(h) for h in hosts]), export_states(gens))
    assert (np.abs(ours) > ZIGGURAT_R).sum() >= 5  # the tail was drawn
