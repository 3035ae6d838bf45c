"""Chart geometry for the inline SVG plots, checked by hand on small inputs."""

import pytest

from app.web.charts import HEIGHT, WIDTH, line_chart, nice_max

# Plot area: x from 46 to 308 px (262 wide); y from 166 px (zero) up to 26 px (the axis maximum), 140 high.


def test_points_are_scaled_into_the_plot_area():
    chart = line_chart("t", [0.0, 0.5, 1.0], {"s": [0.0, 0.5, 1.0]}, x_label="x", y_label="y", y_max=1.0)
    assert (chart.width, chart.height) == (WIDTH, HEIGHT)
    assert chart.lines[0].segments == ("46.0,166.0 177.0,96.0 308.0,26.0",)
    assert [t.label for t in chart.y_ticks] == ["0", "0.25", "0.5", "0.75", "1"]
    assert [t.at for t in chart.x_ticks] == [46.0, 177.0, 308.0]


def test_a_missing_value_breaks_the_line_instead_of_dropping_to_zero():
    chart = line_chart("t", [1, 2, 3, 4], {"s": [1.0, None, 1.0, 1.0]}, x_label="x", y_label="y", y_max=2.0)
    assert chart.lines[0].segments == ("46.0,96.0", "220.7,96.0 308.0,96.0")  # x=3: 46 + 2/3 * 262
    assert len(chart.lines[0].dots) == 3


def test_markers_outside_the_range_are_left_out_and_references_raise_the_axis():
    chart = line_chart("t", [0.1, 0.2], {"s": [0.1, 0.2]}, x_label="x", y_label="y",
                       markers=[(0.15, "site", ""), (0.9, "far", "")], references=[(0.38, "TREWS")])
    assert [(m.at, m.label) for m in chart.markers] == [(177.0, "site")]
    assert chart.y_ticks[-1].label == "0.5"  # nice_max(0.38)
    assert chart.references[0].at == 59.6  # 166 - 0.38 / 0.5 * 140


@pytest.mark.parametrize("value, expected", [(0.38, 0.5), (0.2, 0.2), (7, 10), (1.2, 2), (2.4, 2.5), (0, 1), (30, 50)])
def test_axis_maxima_are_round_numbers(value, expected):
    assert nice_max(value) == pytest.approx(expected)


def test_one_x_value_still_draws():
    chart = line_chart("t", [5], {"s": [3]}, x_label="x", y_label="y")
    assert chart.lines[0].segments == ("177.0,82.0",)  # x centred; y = 166 - 3/5 * 140 (axis up to 5)
