import { Button, Space, Typography } from "antd";
import type { CursorPages } from "./useCursorPages";

export interface PagerLabels {
  previous: string;
  next: string;
  page: string;
}

/** Previous / next for a cursor-paged list (a cursor has no page count to jump to). */
export function PagerButtons({ pages, labels }: { pages: Pick<CursorPages<unknown>, "hasNext" | "hasPrevious" | "next" | "previous" | "loading">; labels: PagerLabels }) {
  return (
    <Space style={{ marginTop: 16 }}>
      <Button onClick={pages.previous} disabled={!pages.hasPrevious || pages.loading}>{labels.previous}</Button>
      <Typography.Text type="secondary">{labels.page}</Typography.Text>
      <Button onClick={pages.next} disabled={!pages.hasNext || pages.loading}>{labels.next}</Button>
    </Space>
  );
}
