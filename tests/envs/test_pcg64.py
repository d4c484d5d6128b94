"""envs.pcg64: NumPy's PCG64 stream reproduced in a Warp kernel, bit for bit."""
import numpy as np
import pytest
import warp as wp

from envs.pcg64 import export_states, next_double


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
