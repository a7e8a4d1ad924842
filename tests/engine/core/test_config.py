"""Settings: DataSpec to and from a dict, and the choices every front end offers matching what runs them."""
import pytest

from engine.core import config
from engine.core.config import DataSpec
from engine.core.errors import ConfigError, UserError


def test_dataspec_round_trips_and_ignores_what_is_not_a_setting():
    spec = DataSpec(kind="folder", path="/photos", image_size=32, color="rgb", validation_fraction=0.2, seed=3)
    recorded = {**spec.to_dict(), "summary": "Images from /photos: 90 training + 10 validation samples"}
    assert DataSpec.from_dict(recorded) == spec


@pytest.mark.parametrize("values, match", [({"kind": "magic"}, "Unknown data source"),
                                           ({"kind": "array"}, "Choose a file"),
                                           ({"image_size": "big"}, None), ({"image_size": 2}, "out of range")])
def test_bad_recorded_specs_are_config_errors(values, match):
    with pytest.raises(ConfigError, match=match):
        DataSpec.from_dict(values)


def test_config_errors_are_user_errors_and_value_errors():
    assert issubclass(ConfigError, UserError) and issubclass(ConfigError, ValueError)


def test_offered_choices_are_the_implemented_ones():
    from engine.denoise.classical import CLASSICAL_METHODS
    from engine.export import writer

    assert set(config.CLASSICAL_DENOISERS) == set(CLASSICAL_METHODS)
    assert set(config.EXPORT_FORMATS) == set(config.EXPORT_SUFFIXES) == set(writer.TOLERANCES)
    assert set(config.EXPORT_PARTS) == {"model", "encoder", "decoder"}
