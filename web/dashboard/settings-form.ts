// The settings form: prefilled from the settings in force, sends what changed with
// PUT /api/settings and shows the coordinator's answer (its 400 message names the field).
// While someone edits, new RunStates do not overwrite what they typed.
import type { Settings } from '../../shared/settings.ts';
import { AdminRequestError, putSettings } from './admin-api.ts';
import { changedSettings, formValue, SETTING_GROUPS, settingFields, type SettingField } from './settings-fields.ts';

export interface SettingsFormHooks {
  token(): string | null;
  /** A 401/403 came back: the page should ask for the admin token. */
  onTokenRefused(error: AdminRequestError): void;
}

export interface SettingsForm {
  /** Shows `settings` unless the form holds unsaved edits. */
  show(settings: Settings): void;
}

type FieldControl = HTMLInputElement | HTMLSelectElement;

function control(field: SettingField): FieldControl {
  if (field.kind === 'choice' || field.kind === 'boolean') {
    const select = document.createElement('select');
    for (const choice of field.choices) select.add(new Option(choice, choice));
    return select;
  }
  const input = document.createElement('input');
  input.type = 'number';
  input.inputMode = field.integer && field.scale === 1 ? 'numeric' : 'decimal';
  input.step = field.integer && field.scale === 1 ? '1' : 'any';
  if (field.min !== undefined) input.min = String(field.min / field.scale);
  if (field.max !== undefined) input.max = String(field.max / field.scale);
  return input;
}

export function createSettingsForm(form: HTMLFormElement, feedback: HTMLElement, hooks: SettingsFormHooks): SettingsForm {
  const fields = settingFields();
  const controls = new Map<string, FieldControl>();
  // The coordinator validates (same schema as its API): the browser's own checks would hide its message.
  form.noValidate = true;
  const groups = SETTING_GROUPS.map((group) => {
    const members = fields.filter((f) => f.group === group);
    if (members.length === 0) return null;
    const fieldset = document.createElement('fieldset');
    const legend = document.createElement('legend');
    legend.textContent = group;
    fieldset.append(legend);
    for (const field of members) {
      const label = document.createElement('label');
      label.title = field.description;
      const name = document.createElement('span');
      name.className = 'settings-label';
      name.textContent = field.label;
      const input = control(field);
      input.name = field.key;
      input.dataset.testid = `setting-${field.key}`;
      controls.set(field.key, input);
      if (field.unit) {
        const unit = document.createElement('span');
        unit.className = 'settings-unit';
        unit.textContent = `(${field.unit})`;
        name.append(unit);
      }
      label.append(name, input);
      fieldset.append(label);
    }
    return fieldset;
  });
  const buttons = document.createElement('div');
  buttons.className = 'settings-buttons';
  const save = document.createElement('button');
  save.type = 'submit';
  save.textContent = 'Save settings';
  save.dataset.testid = 'settings-save';
  const revert = document.createElement('button');
  revert.type = 'button';
  revert.textContent = 'Revert';
  revert.className = 'secondary';
  buttons.append(save, revert);
  form.replaceChildren(...groups.filter((g) => g !== null), buttons);

  /** What the form was last filled with, and the newest settings the coordinator reported. */
  let shown: Settings | null = null;
  let latest: Settings | null = null;
  let dirty = false;
  let saving = false;

  function fill(settings: Settings): void {
    for (const field of fields) controls.get(field.key)!.value = formValue(field, settings[field.key]);
    shown = settings;
    dirty = false;
    form.dataset.dirty = 'false';
  }

  function say(text: string, kind: 'error' | 'ok' | 'note'): void {
    feedback.textContent = text;
    feedback.dataset.kind = kind;
    feedback.hidden = text === '';
  }

  form.addEventListener('input', () => {
    dirty = true;
    form.dataset.dirty = 'true';
  });
  revert.addEventListener('click', () => {
    if (latest) fill(latest);
    say('', 'note');
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (saving || shown === null) return;
    const values = Object.fromEntries([...controls].map(([key, input]) => [key, input.value]));
    const parsed = changedSettings(fields, values, latest ?? shown);
    if (!parsed.ok) return say(parsed.problems.join('; '), 'error');
    if (Object.keys(parsed.changes).length === 0) return say('Nothing changed.', 'note');
    saving = true;
    save.disabled = true;
    putSettings(parsed.changes, hooks.token())
      .then((settings) => {
        latest = settings;
        fill(settings);
        say(`Saved: ${Object.keys(parsed.changes).join(', ')}. They apply from the next run.`, 'ok');
      })
      .catch((error: unknown) => {
        if (!(error instanceof AdminRequestError)) throw error;
        if (error.status === 409) say(`A run is in progress: stop the run first, then save. (${error.reason})`, 'error');
        else say(error.message, 'error');
        if (error.needsToken) hooks.onTokenRefused(error);
      })
      .finally(() => {
        saving = false;
        save.disabled = false;
      });
  });

  return {
    show(settings) {
      latest = settings;
      if (!dirty && JSON.stringify(settings) !== JSON.stringify(shown)) fill(settings);
    },
  };
}
