// Four tabs that roughly agree and one outlier: the hand-worked example of the robust-rule tests.
export const c0 = Float32Array.of(1, -2, 0.5);
export const c1 = Float32Array.of(2, 0, -1);
export const c2 = Float32Array.of(-1, 4, 0.25);
export const c3 = Float32Array.of(0.5, 1, 0);
export const outlier = Float32Array.of(100, -100, 50);
export const five = [c0, c1, c2, c3, outlier];
