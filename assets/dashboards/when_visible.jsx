// Renders its children once its box comes near the viewport (and keeps them), so a long page draws what is in
// view first. The empty box keeps the children's place (give it their height), so nothing below jumps when they
// appear. Without IntersectionObserver the children are rendered at once.
import React, { useEffect, useRef, useState } from "react";

export function WhenVisible({ children, margin, ref: _outer, ...rest }) {
  const ref = useRef(null);
  const [seen, setSeen] = useState(false);
  useEffect(() => {
    if (seen || !ref.current) return undefined;
    if (typeof IntersectionObserver === "undefined") {
      setSeen(true);
      return undefined;
    }
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) {
          setSeen(true);
          observer.disconnect();
        }
      },
      { rootMargin: margin || "200px 0px" },
    );
    observer.observe(ref.current);
    return () => observer.disconnect();
  }, [seen, margin]);
  return (
    <div ref={ref} data-drawn={seen ? "true" : "false"} {...rest}>
      {seen ? children : null}
    </div>
  );
}
