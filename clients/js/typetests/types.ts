// Compile-time checks of the public types (`npm run typecheck`): each line marked as an expected
// error below must fail to compile, or tsc reports the marker as unused.
import type { FeedbackEvent } from "../src/index";

export const good: FeedbackEvent = { kind: "thumb", name: "helpful", value: 1, span_id: "00f067aa0ba902b7" };
// @ts-expect-error a misspelt field (`coment`) is refused, not carried as an unknown extra
export const typo: FeedbackEvent = { kind: "thumb", name: "helpful", coment: "spot on" };
