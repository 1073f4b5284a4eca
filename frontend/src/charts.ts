// ECharts, only the parts the command screen uses (tree-shaken through echarts/core).
import { BarChart, type BarSeriesOption, LineChart, type LineSeriesOption } from "echarts/charts";
import {
  GridComponent,
  type GridComponentOption,
  LegendComponent,
  type LegendComponentOption,
  TooltipComponent,
  type TooltipComponentOption,
} from "echarts/components";
import { type ComposeOption, init, use } from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";

use([LineChart, BarChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

export type ChartOption = ComposeOption<
  LineSeriesOption | BarSeriesOption | GridComponentOption | LegendComponentOption | TooltipComponentOption
>;

export { init };

export const AXIS = {
  axisLine: { lineStyle: { color: "#2a5d8f" } },
  axisLabel: { color: "#9fb7cf" },
  splitLine: { lineStyle: { color: "#16365a" } },
};

export const PALETTE = ["#29b6f6", "#ffb300", "#66bb6a", "#ff7043", "#ab47bc", "#26c6da",
  "#d4e157", "#8d6e63", "#78909c"];
