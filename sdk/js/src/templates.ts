/**
 * Template management (`client.templates`).
 *
 * @module templates
 */

import { ConflictError } from "./errors.js";
import * as ops from "./operations.js";
import type { Page, PageOptions, Template, TemplateConfig, TemplateSpawnOverrides } from "./models.js";
import { Sandbox } from "./sandbox.js";
import type { Transport } from "./transport.js";

/** Manages sandbox templates on the server. Use it through {@link Client.templates}. */
export class TemplateManager {
  private readonly _transport: Transport;

  /** @internal Constructed by {@link Client}. */
  constructor(transport: Transport) {
    this._transport = transport;
  }

  /** List templates (a page with `nextCursor` when `limit` or `cursor` is given). */
  list(opts?: PageOptions): Promise<Page<Template>> {
    return this._transport.send(ops.listTemplates(opts));
  }

  /** Get a template by name (throws {@link NotFoundError} when missing). */
  get(name: string): Promise<Template> {
    return this._transport.send(ops.getTemplate(name));
  }

  /** Create a template, or replace it when one of that name exists. */
  async save(config: TemplateConfig): Promise<Template> {
    try {
      return await this._transport.send(ops.createTemplate(config));
    } catch (err) {
      if (err instanceof ConflictError) return this.replace(config);
      throw err;
    }
  }

  /** Replace an existing template (`PUT`; unset fields get their defaults). */
  replace(config: TemplateConfig): Promise<Template> {
    return this._transport.send(ops.replaceTemplate(config));
  }

  /** Delete a template. */
  async delete(name: string): Promise<void> {
    await this._transport.send(ops.deleteTemplate(name));
  }

  /** Spawn a sandbox from a template, optionally overriding provider, TTL, metadata or owner. */
  async spawn(name: string, overrides?: TemplateSpawnOverrides): Promise<Sandbox> {
    const info = await this._transport.send(ops.spawnFromTemplate(name, overrides));
    return new Sandbox(this._transport, info);
  }
}
