"""Sliced inference's geometry on made-up boxes (issue 24), no model: tiles cover the frame, a box
cut by a seam comes back once, boxes move into the frame to the pixel and stop at its border, a
border tile is padded and never stretched, and bad numbers get one line naming the flag."""

from __future__ import annotations

import numpy as np
import pytest
from sahi.slicing import get_slice_bboxes

import yolov11
from yolov11.serve.sliced import (
    MAX_TILES,
    Slicing,
    cut_at_seams,
    merge_detections,
    padded_crop,
    slicing_of,
    tile_boxes,
    tile_count,
    to_frame,
    with_lone_pieces,
)


def test_tiles_cover_the_frame_with_the_overlap_asked():
    tiles = tile_boxes(1920, 1080, 640, 0.2)
    assert len(tiles) == 8 and all(x1 - x0 == 640 and y1 - y0 == 640 for x0, y0, x1, y1 in tiles)
    covered = np.zeros((1080, 1920), bool)
    for x0, y0, x1, y1 in tiles:
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    assert tiles[1][0] == 640 - 128  # the next tile repeats 20 % of the one before
    assert tile_boxes(500, 300, 640, 0.2) == [[0, 0, 500, 300]]  # smaller than a tile: one tile, the whole image
    for width, height, size, overlap in ((1920, 1080, 640, 0.2), (3840, 2160, 256, 0.2), (1000, 999, 333, 0.5), (641, 640, 640, 0.0),
                                         (4000, 300, 64, 0.85)):  # counted before making them: the same number sahi makes
        assert tile_count(width, height, size, overlap) == len(get_slice_bboxes(height, width, size, size, False, overlap, overlap))


def test_a_box_cut_by_a_seam_comes_back_as_one_box():
    left, right = [0, 0, 640, 640], [512, 0, 1152, 640]
    cut = to_frame(np.array([[600.0, 100.0, 640.0, 130.0]]), left)  # the part the left tile sees, ending at its edge
    whole = to_frame(np.array([[88.0, 100.0, 148.0, 130.0]]), right)  # the whole helmet, inside the right tile
    assert cut_at_seams(cut, left, 1152, 640).tolist() == [True] and cut_at_seams(whole, right, 1152, 640).tolist() == [False]
    border = to_frame(np.array([[600.0, 0.0, 640.0, 30.0]]), [512, 0, 1152, 640])  # ends at the image's own right border
    assert cut_at_seams(border, [512, 0, 1152, 640], 1152, 640).tolist() == [False]
    again = whole + 0.5  # the same helmet seen by the full-frame pass
    other = whole.copy()  # a box of another class at the same place
    xyxy, scores, classes = merge_detections(np.concatenate([whole, again, other]), np.array([0.8, 0.6, 0.7]), np.array([0, 0, 1]))
    assert sorted(classes.tolist()) == [0, 1]  # one box per class
    assert xyxy[classes == 0].tolist() == [[600.0, 100.0, 660.0, 130.0]] and scores[classes == 0].tolist() == [0.8]
    merged, _, _ = merge_detections(np.concatenate([cut, whole]), np.array([0.9, 0.8]), np.array([0, 0]), method="nmm")
    assert merged.tolist() == [[600.0, 100.0, 660.0, 130.0]]  # SAHI's merging: the union of the cut box and the whole one
    apart = np.array([[0.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 10.0]])
    assert len(merge_detections(apart, np.array([0.5, 0.5]), np.array([0, 0]))[0]) == 2  # neighbours stay two


def test_an_object_no_tile_sees_whole_comes_back_once_as_the_union_of_its_pieces():
    top, bottom = [0, 0, 128, 128], [0, 103, 128, 231]  # 128 px tiles overlapping by 25 px; the object is 36 px tall
    upper = to_frame(np.array([[40.0, 100.0, 76.0, 128.0]]), top)  # rows 100-128 of an object spanning rows 100-136
    lower = to_frame(np.array([[40.0, 0.0, 76.0, 33.0]]), bottom)  # rows 103-136
    assert cut_at_seams(upper, top, 128, 231).tolist() == [True] and cut_at_seams(lower, bottom, 128, 231).tolist() == [True]
    none = (np.zeros((0, 4)), np.zeros(0), np.zeros(0, int))
    pieces = (np.concatenate([upper, lower]), np.array([0.7, 0.6]), np.array([0, 0]))
    xyxy, scores, classes = with_lone_pieces(none, pieces, 0.5)
    assert xyxy.tolist() == [[40.0, 100.0, 76.0, 136.0]] and scores.tolist() == [0.7] and classes.tolist() == [0]
    seen_whole = (np.array([[40.0, 99.0, 76.0, 137.0]]), np.array([0.5]), np.array([0]))  # e.g. by the full-frame pass
    assert with_lone_pieces(seen_whole, pieces, 0.5)[0].tolist() == [[40.0, 99.0, 76.0, 137.0]]  # the pieces give way to it
    other_class = (seen_whole[0], seen_whole[1], np.array([1]))
    assert len(with_lone_pieces(other_class, pieces, 0.5)[0]) == 2  # a box of another class holds nothing of this one


def test_boxes_move_into_the_frame_to_the_pixel_and_stop_at_its_border():
    moved = to_frame(np.array([[10.5, 20.25, 100.0, 200.0]]), [1280, 440, 1920, 1080])
    assert moved.tolist() == [[1290.5, 460.25, 1380.0, 640.0]]
    into_padding = to_frame(np.array([[450.0, 250.0, 600.0, 400.0]]), [0, 0, 500, 300])  # a 500x300 image in a 640 tile
    assert into_padding.tolist() == [[450.0, 250.0, 500.0, 300.0]]


def test_a_border_tile_is_padded_not_stretched():
    image = np.random.default_rng(0).integers(0, 255, (300, 500, 3), dtype=np.uint8)
    crop = padded_crop(image, [0, 0, 500, 300], 640)
    assert crop.shape == (640, 640, 3)
    assert np.array_equal(crop[:300, :500], image)  # the pixels as they are, at the top left
    assert (crop[300:] == 114).all() and (crop[:, 500:] == 114).all()
    frame = np.random.default_rng(1).integers(0, 255, (1080, 1920, 3), dtype=np.uint8)
    assert np.array_equal(padded_crop(frame, [1280, 440, 1920, 1080], 640), frame[440:1080, 1280:1920])


@pytest.mark.parametrize(("args", "flag"), [
    ((True, 0, None), "--slice-size 0: a tile side in pixels, 1 to 4096"),
    ((True, 5000, None), "--slice-size 5000"),
    ((True, None, -0.1), "--slice-overlap -0.1"),
    ((True, None, 0.9), "--slice-overlap 0.9: the share of a tile its neighbour repeats"),
    (("maybe", None, None), "--slice maybe: on"),
])
def test_bad_numbers_name_their_flag(args, flag):
    with pytest.raises(yolov11.UserError, match=flag.replace("(", r"\(")):
        slicing_of(*args)


def test_too_many_tiles_are_refused_in_one_line():
    assert slicing_of("auto", 320, 0.25) == Slicing(auto=True, size=320, overlap=0.25)
    assert slicing_of(None) is None and slicing_of(False) is None
    refused = rf"--slice-size 64: a 3840x2160 image makes \d+ tiles at this size, over the cap of {MAX_TILES}"
    with pytest.raises(yolov11.UserError, match=refused):
        tile_boxes(3840, 2160, 64, 0.2)
    with pytest.raises(yolov11.UserError, match="--slice-size 1: a 3840x2160 image makes 8294400 tiles"):  # refused at once
        tile_boxes(3840, 2160, 1, 0.2)
