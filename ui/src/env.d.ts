// Lets TypeScript accept the stylesheet import that Vite bundles into assets/app.css.
declare module "*.css";
