"""The device is visible to CuPy and reported by `kmc-ald info`."""
import pytest
from typer.testing import CliRunner

from kmc_ald.cli import app

pytestmark = pytest.mark.gpu


def test_cupy_runs_a_kernel_on_the_device():
    import cupy
    x = cupy.arange(1 << 20, dtype=cupy.float64)
    assert float(x.sum()) == (1 << 20) * ((1 << 20) - 1) / 2


def test_info_reports_the_gpu():
    result = CliRunner().invoke(app, ["info"])
    assert result.exit_code == 0
    assert "available:" in result.output
