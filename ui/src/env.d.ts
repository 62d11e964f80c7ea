// Lets TypeScript accept the stylesheet import that Vite bundles into assets/app.css.
declare module "*.css";
// Vite replaces import.meta.env.DEV at build time (true under `npm run dev`).
interface ImportMeta {
  readonly env: { readonly DEV: boolean };
}
