"""Tiling with plain NumPy functions (no model): a tiled run is the whole-image run, whatever the tiles."""
import numpy as np
import pytest

from engine.core.errors import ConfigError, DataError, ModelError
from engine.core.jobs import JobState, Stopped
from engine.denoise.tiling import as_hwc, count_tiles, tiled_apply


def box3(batch: np.ndarray) -> np.ndarray:
    """A 3x3 mean with edge padding: each output pixel sees 1 pixel around it."""
    padded = np.pad(batch, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    h, w = batch.shape[1:3]
    return sum(padded[:, dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)) / 9.0


def image(h, w, c=1, seed=0):
    return np.random.default_rng(seed).random((h, w, c)).astype(np.float32)


@pytest.mark.parametrize("h, w, tile, overlap", [(37, 53, 16, 2), (64, 64, 16, 1), (20, 90, 33, 4), (9, 9, 5, 1),
                                                 (100, 7, 10, 2)])
def test_tiled_equals_whole_for_a_function_that_sees_no_further_than_the_overlap(h, w, tile, overlap):
    x = image(h, w)
    out = tiled_apply(box3, x, tile=tile, overlap=overlap)
    np.testing.assert_allclose(out, box3(x[None])[0], atol=1e-6)


def test_small_tiles_shrink_the_overlap_to_keep_a_centre():
    x = image(40, 40)
    sizes = []
    out = tiled_apply(lambda b: sizes.extend([b.shape[1:3]] * len(b)) or b, x, tile=8, overlap=4)  # overlap 1
    assert set(sizes) == {(8, 8)} and np.array_equal(out, x)
    assert count_tiles((40, 40, 1), tile=8, overlap=4) == len(sizes) == 49  # 7 x 7 tiles, 2 pixels shared
    np.testing.assert_allclose(tiled_apply(box3, x, tile=8, overlap=4), box3(x[None])[0], atol=1e-6)


def test_every_pixel_is_written_once_and_from_its_own_position():
    x = image(45, 31, 2)
    np.testing.assert_array_equal(tiled_apply(lambda b: b, x, tile=8, overlap=2), x)
    np.testing.assert_array_equal(tiled_apply(lambda b: b[..., ::-1], x, tile=8, overlap=2), x[..., ::-1])


def test_progress_counts_every_tile_and_count_tiles_knows_it_in_advance():
    for shape, tile, overlap, batch in [((45, 31, 1), 8, 2, 1), ((45, 31, 1), 8, 2, 3), ((64, 64, 1), 100, 4, 2)]:
        calls, seen = [], []
        tiled_apply(lambda b: calls.append(len(b)) or b, image(*shape), tile=tile, overlap=overlap, batch_size=batch,
                    state=JobState(seen.append))
        total = count_tiles(shape, tile=tile, overlap=overlap)
        assert sum(calls) == total and seen[-1].done == seen[-1].total == total
        assert [e.done for e in seen] == sorted(e.done for e in seen) and max(calls) <= batch
        assert seen[-1].message == f"{total} of {total} tile{'s' if total != 1 else ''}"


def test_per_channel_feeds_one_channel_at_a_time():
    x = image(20, 24, 3)
    seen_channels = []
    out = tiled_apply(lambda b: seen_channels.append(b.shape[-1]) or b * 2, x, per_channel=True, out_channels=1,
                      tile=8, overlap=2)
    assert set(seen_channels) == {1} and np.allclose(out, x * 2)
    assert count_tiles((20, 24, 3), tile=8, overlap=2, passes=3) == 3 * count_tiles((20, 24, 3), tile=8, overlap=2)


def test_fixed_size_and_size_multiples_are_padded_and_cropped_back():
    x = image(10, 13)
    sizes = []
    out = tiled_apply(lambda b: sizes.append(b.shape[1:3]) or b, x, fixed=(16, 16), overlap=2)
    assert set(sizes) == {(16, 16)} and np.allclose(out, x)
    sizes.clear()
    out = tiled_apply(lambda b: sizes.append(b.shape[1:3]) or b, x, multiple=4, tile=512)
    assert sizes == [(12, 16)] and np.allclose(out, x)
    tiny = image(1, 1)
    assert np.allclose(tiled_apply(lambda b: b, tiny, fixed=(4, 4)), tiny)


def test_a_stop_ends_between_batches():
    state = JobState(stop=None)
    state.request_stop()
    with pytest.raises(Stopped):
        tiled_apply(lambda b: b, image(32, 32), tile=8, overlap=1, state=state)


def test_bad_arguments_and_bad_functions_are_refused():
    with pytest.raises(DataError, match="height, width, channels"):
        tiled_apply(lambda b: b, np.zeros((4, 4)))
    with pytest.raises(ConfigError, match="tile must be"):
        tiled_apply(lambda b: b, image(8, 8), tile=0)
    with pytest.raises(ConfigError, match="overlap >= 0"):
        tiled_apply(lambda b: b, image(8, 8), overlap=-1)
    with pytest.raises(ModelError, match="same height and width"):
        tiled_apply(lambda b: b[:, :-1], image(8, 8))
    with pytest.raises(ModelError, match="as many channels"):
        tiled_apply(lambda b: np.concatenate([b, b], -1), image(8, 8))
    assert as_hwc(np.zeros((3, 4))).shape == (3, 4, 1) and as_hwc(np.zeros((3, 4, 2))).shape == (3, 4, 2)


def recorder(seen):
    def fn(batch):
        seen.append(batch.copy())
        return batch
    return fn


def test_padding_mirrors_the_image_as_a_convolution_expects():
    seen = []
    row = np.array([[[1.0], [2.0], [3.0]]], np.float32)  # 1 x 3
    tiled_apply(recorder(seen), row, fixed=(1, 9), overlap=0)  # 3 on each side: more than the row, so symmetric
    assert seen[0][0, 0, :, 0].tolist() == [3, 2, 1, 1, 2, 3, 3, 2, 1]
    seen.clear()
    tiled_apply(recorder(seen), row[:, :2], fixed=(1, 4), overlap=0)  # 1 on each side of 2: reflected
    assert seen[0][0, 0, :, 0].tolist() == [2, 1, 2, 1]


def test_fixed_height_and_width_may_differ():
    seen = []
    x = image(5, 11)
    out = tiled_apply(recorder(seen), x, fixed=(8, 16), overlap=0)
    assert {b.shape[1:3] for b in seen} == {(8, 16)} and np.allclose(out, x)


def test_batches_hold_at_most_the_pixel_budget():
    from engine.denoise.tiling import _BATCH_PIXELS

    sizes = []
    tiled_apply(lambda b: sizes.append(len(b)) or b, np.zeros((600, 600, 1), np.float32), tile=256, overlap=8)
    per_batch = _BATCH_PIXELS // (256 * 256)
    assert sum(sizes) == count_tiles((600, 600), tile=256, overlap=8) and max(sizes) == per_batch < sum(sizes)


def test_empty_images_and_wrong_outputs_are_refused_with_their_shapes():
    for shape in [(0, 4, 1), (4, 0, 1), (4, 4, 0)]:
        with pytest.raises(DataError, match="height, width, channels"):
            tiled_apply(lambda b: b, np.zeros(shape, np.float32))
    with pytest.raises(ModelError, match=r"returned \(7, 8, 1\) for an input of \(8, 8, 1\)"):
        tiled_apply(lambda b: b[:, :-1], image(8, 8))
    with pytest.raises(ModelError, match="same height and width"):
        tiled_apply(lambda b: b[..., None], image(8, 8))  # a fifth axis
    with pytest.raises(ModelError, match="returned 1 channels for 3"):
        tiled_apply(lambda b: b[..., :1], image(16, 16, 3), tile=8, overlap=1)  # a batch of several tiles


def test_per_channel_outputs_of_several_channels_stay_in_channel_order():
    x = image(6, 7, 3)
    out = tiled_apply(lambda b: np.concatenate([b, 2 * b], -1), x, per_channel=True, out_channels=2, tile=4,
                      overlap=1)
    expected = np.concatenate([np.concatenate([x[..., c:c + 1], 2 * x[..., c:c + 1]], -1) for c in range(3)], -1)
    np.testing.assert_allclose(out, expected)


def test_padding_is_centred_and_a_long_pad_mirrors_with_the_edge():
    seen = []
    x = image(3, 5)
    tiled_apply(recorder(seen), x, fixed=(8, 9), overlap=0)  # 5 rows and 4 columns of padding
    assert len(seen) == 1 and len(seen[0]) == 1  # padded to exactly one tile
    tile = seen[0][0]
    assert tile.shape == (8, 9, 1)
    np.testing.assert_array_equal(tile[2:5, 2:7], x)  # top = 5 // 2, left = 4 // 2
    rows = np.pad(x, ((2, 3), (0, 0), (0, 0)), mode="symmetric")  # 3 rows added to 3: with the edge
    np.testing.assert_array_equal(tile, np.pad(rows, ((0, 0), (2, 2), (0, 0)), mode="reflect"))  # 2 to 5: without
    seen.clear()
    row = np.array([[[1.0], [2.0]]], np.float32)  # 2 wide, 7 to add: more than the row on one side
    tiled_apply(recorder(seen), row, fixed=(1, 9), overlap=0)
    np.testing.assert_array_equal(seen[0][0], np.pad(row, ((0, 0), (3, 4), (0, 0)), mode="symmetric"))


def column_starts(batches):
    """The first column of each tile, read from an image whose value is its column index."""
    return sorted({int(b[0, 0, 0]) for batch in batches for b in batch})


def test_the_defaults_are_tiles_of_512_overlapping_by_32():
    width = 1100
    x = np.tile(np.arange(width, dtype=np.float32), (8, 1))[..., None]
    seen = []
    tiled_apply(recorder(seen), x)
    assert {b.shape[1:3] for b in seen} == {(8, 512)}
    assert column_starts(seen) == [0, 448, 588]  # kept centres 0-480, 480-928, 928-1100
    assert count_tiles((8, width)) == sum(len(b) for b in seen) == 3
    assert count_tiles((8, 960)) == 2 and count_tiles((8, 961)) == 3  # two tiles cover 1024 - 2 x 32


def test_tile_sizes_round_to_the_multiple():
    seen = []
    tiled_apply(recorder(seen), image(13, 13), tile=13, multiple=4, overlap=0)  # one tile: up to 16
    assert {b.shape[1:3] for b in seen} == {(16, 16)}
    seen.clear()
    tiled_apply(recorder(seen), image(40, 40), tile=10, multiple=4, overlap=0)  # smaller tiles: down to 8
    assert {b.shape[1:3] for b in seen} == {(8, 8)}


def test_count_tiles_knows_non_square_shapes_fixed_sizes_and_tiny_tiles():
    for shape, kwargs in [((20, 50, 1), {"tile": 16, "overlap": 2}), ((20, 50, 1), {"fixed": (8, 16), "overlap": 2}),
                          ((12, 12, 1), {"fixed": (4, 4), "overlap": 8})]:
        seen = []
        tiled_apply(recorder(seen), image(*shape), **kwargs)
        assert count_tiles(shape, **kwargs) == sum(len(b) for b in seen), kwargs
    assert count_tiles((12, 12), fixed=(4, 4), overlap=8) == 9  # 4-pixel tiles keep no overlap
    assert count_tiles((20, 20), tile=5, overlap=0) == 16  # no multiple to round to by default
    seen = []
    tiled_apply(recorder(seen), image(50, 20), tile=30, overlap=2)  # taller than the tile, narrower than it
    assert count_tiles((50, 20), tile=30, overlap=2) == sum(len(b) for b in seen)
    seen.clear()
    tiled_apply(recorder(seen), image(3, 3), fixed=(4, 4), overlap=0)  # one row and column added, after
    assert [b.shape[1:3] for b in seen] == [(4, 4)]


def test_batches_are_capped_at_64_tiles_and_hold_at_least_one():
    sizes = []
    tiled_apply(lambda b: sizes.append(len(b)) or b, image(80, 80), tile=8, overlap=0)  # 100 small tiles
    assert sizes == [64, 36]
    sizes.clear()
    tiled_apply(lambda b: sizes.append(len(b)) or b, np.zeros((2048, 1024, 1), np.float32), tile=1024, overlap=0)
    assert sizes == [1, 1]  # a tile above the pixel budget still runs, alone


def test_more_shapes_are_refused():
    with pytest.raises(DataError, match="height, width, channels"):
        tiled_apply(lambda b: b, np.zeros((2, 4, 4, 1), np.float32))
    with pytest.raises(ModelError, match="same height and width"):
        tiled_apply(lambda b: b[..., 0], image(8, 8))  # a channel axis less
    with pytest.raises(ModelError, match="same height and width"):
        tiled_apply(lambda b: np.pad(b, ((0, 0), (0, 1), (0, 0), (0, 0))), image(8, 8))  # one row more
    x = image(3, 3)
    np.testing.assert_array_equal(tiled_apply(lambda b: b, x, tile=1, overlap=0), x)  # 1-pixel tiles are allowed


def block4(batch: np.ndarray) -> np.ndarray:
    """4x4 block means spread back over each block: like a model with strides 2 x 2, its output depends on
    where the 4x4 grid starts (needs sizes that are multiples of 4)."""
    n, h, w, c = batch.shape
    means = batch.reshape(n, h // 4, 4, w // 4, 4, c).mean(axis=(2, 4))
    return np.repeat(np.repeat(means, 4, axis=1), 4, axis=2)


@pytest.mark.parametrize("h, w, tile, overlap", [(37, 53, 20, 3), (21, 90, 24, 5), (64, 63, 20, 2), (38, 41, 24, 4)])
def test_tiles_of_a_strided_model_stay_on_the_whole_image_sampling_grid(h, w, tile, overlap):
    """Overlaps and sizes that are not multiples of 4 would start tiles off the 4x4 grid and change the
    result; tiles start on it, sizes are padded at the bottom / right, so the tiled run is the whole-image
    run padded the same way."""
    x = image(h, w)
    whole = box3(block4(np.pad(x, ((0, -h % 4), (0, -w % 4), (0, 0)), mode="reflect")[None]))[0, :h, :w]
    out = tiled_apply(lambda b: box3(block4(b)), x, tile=tile, overlap=overlap, multiple=4)
    np.testing.assert_allclose(out, whole, atol=1e-6)
    one = tiled_apply(lambda b: box3(block4(b)), x, tile=512, overlap=overlap, multiple=4)  # one tile: same
    np.testing.assert_allclose(one, whole, atol=1e-6)
