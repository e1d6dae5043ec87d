"""GPU kernel launches by name: the argument tuple is built and checked from the C signature."""
import numpy as np
import pytest

from kmc_ald.engine.backends.launch import Parameter, bind, kernel_signature


def test_the_signature_of_sweep_class_is_read_from_the_source():
    sig = kernel_signature("sweep.cu", "sweep_class")
    by_name = {p.name: p for p in sig}
    assert sig[0] == Parameter("members", np.dtype(np.int32), True)
    assert by_name["occupation"] == Parameter("occupation", np.dtype(np.uint8), True)
    assert by_name["thresholds"].dtype == np.uint64 and by_name["thresholds"].pointer
    assert by_name["step_hi"] == Parameter("step_hi", np.dtype(np.uint32), False)
    assert len({p.name for p in sig}) == len(sig)


SIG = (Parameter("occupation", np.dtype(np.uint8), True),
       Parameter("n_sites", np.dtype(np.int64), False),
       Parameter("step", np.dtype(np.uint32), False))


def test_bind_orders_by_name_and_casts_scalars():
    occ = np.zeros(4, np.uint8)
    args = bind(SIG, {"step": 7, "n_sites": 4, "occupation": occ})
    assert args[0] is occ
    assert args[1] == 4 and args[1].dtype == np.int64
    assert args[2] == 7 and args[2].dtype == np.uint32


@pytest.mark.parametrize(("arguments", "error", "match"), [
    ({"occupation": np.zeros(4, np.int32), "n_sites": 4, "step": 0}, TypeError,
     "occupation: expected a C-contiguous uint8 array, got ndarray int32"),
    ({"occupation": np.zeros((4, 2), np.uint8)[:, 0], "n_sites": 4, "step": 0}, TypeError,
     "occupation: expected a C-contiguous uint8"),
    ({"occupation": np.zeros(4, np.uint8), "n_sites": 4.0, "step": 0}, TypeError,
     "n_sites: expected a int64 scalar, got float"),
    ({"occupation": np.zeros(4, np.uint8), "n_sites": 4, "step": -1}, OverflowError,
     "step = -1 does not fit uint32"),
    ({"occupation": np.zeros(4, np.uint8), "n_sites": 4}, TypeError, r"missing \['step'\]"),
    ({"occupation": np.zeros(4, np.uint8), "n_sites": 4, "step": 0, "seed": 1}, TypeError,
     r"unknown \['seed'\]"),
])
def test_bind_refuses_what_the_kernel_would_misread(arguments, error, match):
    with pytest.raises(error, match=match):
        bind(SIG, arguments)
