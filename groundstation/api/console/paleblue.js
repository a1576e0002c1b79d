/*
 * The paleblue plugin for NASA Open MCT: everything it shows comes from the ground API beside it.
 *
 * - Objects: a "paleblue" root with every parameter of the mission database (units, limits,
 *   enumerations from /api/dictionary), the station's own counters, events, command history,
 *   images, link status and the commanding panel.
 * - Telemetry: realtime over the API WebSocket (/api/realtime, one socket for the page),
 *   history over /api/parameters/NAME/history (downsampled to buckets when a range is large),
 *   /api/events and /api/commands.
 * - Time: UTC from the packets' TAI (the leap-second table comes with config.json); a live pass
 *   runs on the "Spacecraft clock", which ticks with the newest telemetry time received, so a pass
 *   of 2020 plots in realtime mode as it arrives.
 * - Alarms: Open MCT's fault management, over /api/alarms (acknowledge, shelve: the operator token).
 */
(function () {
  'use strict';

  const NS = 'paleblue';
  const SECOND = 1000;
  const MINUTE = 60 * SECOND;
  const TAI_1958_TO_UNIX = 378691200; // seconds from 1958-01-01 to 1970-01-01 (no leap seconds then)

  function id(key) {
    return { namespace: NS, key };
  }

  function keystring(key) {
    return NS + ':' + key;
  }

  /* ------------------------------------------------------------------ time */

  function makeTime(leap) {
    // leap: [[tai seconds at which the offset starts, TAI-UTC], ...] ascending
    function offsetAt(tai) {
      let offset = 10;
      for (const [start, value] of leap) {
        if (tai >= start) offset = value;
        else break;
      }
      return offset;
    }
    return {
      utcMs: (tai) => (tai - offsetAt(tai) - TAI_1958_TO_UNIX) * SECOND,
      iso: (ms) => new Date(ms).toISOString()
    };
  }

  /** A clock that ticks with the newest telemetry time seen (the spacecraft's, not the wall's). */
  class SpacecraftClock {
    constructor(start) {
      this.key = 'paleblue.spacecraft';
      this.name = 'Spacecraft clock';
      this.cssClass = 'icon-clock';
      this.description = 'Ticks with the newest telemetry time received from the probe.';
      this.lastTick = start;
      this.listeners = { tick: new Set() };
    }
    on(event, fn) {
      (this.listeners[event] ||= new Set()).add(fn);
      return this;
    }
    off(event, fn) {
      this.listeners[event]?.delete(fn);
      return this;
    }
    once(event, fn) {
      const wrapped = (value) => {
        this.off(event, wrapped);
        fn(value);
      };
      return this.on(event, wrapped);
    }
    removeAllListeners() {
      this.listeners = { tick: new Set() };
    }
    currentValue() {
      return this.lastTick;
    }
    advance(ms) {
      if (ms > this.lastTick || !this.seen) {
        this.seen = true; // the first datum sets the clock, backwards too (a pass of 2020)
        this.lastTick = ms;
        for (const fn of [...(this.listeners.tick || [])]) fn(ms);
      }
    }
  }

  /* ------------------------------------------------------------------ the API */

  class Api {
    constructor(config) {
      this.config = config;
      this.time = makeTime(config.leap_seconds);
      this.socket = null;
      this.byName = new Map(); // parameter name -> Set of callbacks
      this.byType = new Map(); // update type -> Set of callbacks
      this.pending = [];
      this.clock = null;
      this.status = config.live ? 'connecting' : 'none: a finished pass, from its archive';
      this.progress = new Map(); // image -> its newest image_progress update (a view opened late shows it)
      this.finished = new Map(); // image name -> its image update
    }

    token() {
      return window.sessionStorage.getItem('paleblue.token') || '';
    }

    async get(path) {
      const answer = await fetch(path);
      if (!answer.ok) {
        throw new Error(path + ': ' + answer.status + ' ' + (await answer.text()));
      }
      return answer.json();
    }

    async post(path, body, asked = false) {
      const answer = await fetch(path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + this.token() },
        body: JSON.stringify(body || {})
      });
      if (answer.status === 401 && !asked && !this.token()) {
        // no token yet (the commanding panel takes one too): ask once, then try again
        const token = window.prompt('The operator token (printed when the station started):');
        if (token) {
          window.sessionStorage.setItem('paleblue.token', token.trim());
          return this.post(path, body, true);
        }
      }
      const text = await answer.text();
      let json = null;
      try {
        json = JSON.parse(text);
      } catch (e) {
        json = { detail: text };
      }
      if (!answer.ok) {
        throw new Error(json.detail || answer.status);
      }
      return json;
    }

    connect() {
      if (!this.config.live || this.socket) return;
      const url = location.origin.replace(/^http/, 'ws') + '/api/realtime';
      const socket = new WebSocket(url);
      this.socket = socket;
      socket.onopen = () => {
        this.status = 'live';
        this.dispatchType('connection', { type: 'connection', state: 'live' });
        const names = [...this.byName.keys()];
        socket.send(JSON.stringify({ subscribe: names }));
      };
      socket.onmessage = (message) => {
        for (const update of JSON.parse(message.data)) this.receive(update);
      };
      socket.onclose = (event) => {
        this.socket = null;
        this.status = 'closed: ' + (event.reason || 'the station ended the pass');
        this.dispatchType('connection', { type: 'connection', state: this.status });
      };
    }

    receive(update) {
      if (update.tai !== undefined && update.tai !== null) {
        update.utc = this.time.utcMs(update.tai);
      }
      if (update.type === 'image_progress') {
        this.progress.set(update.image_id !== null ? update.image_id : update.transaction, update);
      } else if (update.type === 'image') {
        this.finished.set(update.name, update);
      } else if (update.type === 'link') {
        this.lastLink = update;
      }
      if (update.type === 'parameter') {
        if (this.clock && !update.name.startsWith('station.')) this.clock.advance(update.utc);
        for (const fn of this.byName.get(update.name) || []) fn(update);
      }
      this.dispatchType(update.type, update);
    }

    dispatchType(type, update) {
      for (const fn of this.byType.get(type) || []) fn(update);
    }

    onType(type, fn) {
      if (!this.byType.has(type)) this.byType.set(type, new Set());
      this.byType.get(type).add(fn);
      this.connect();
      return () => this.byType.get(type).delete(fn);
    }

    subscribe(name, fn) {
      let callbacks = this.byName.get(name);
      if (!callbacks) {
        callbacks = new Set();
        this.byName.set(name, callbacks);
        if (this.socket && this.socket.readyState === WebSocket.OPEN) {
          this.socket.send(JSON.stringify({ subscribe: [name] }));
        }
      }
      callbacks.add(fn);
      this.connect();
      return () => {
        callbacks.delete(fn);
        if (callbacks.size === 0) {
          this.byName.delete(name);
          if (this.socket && this.socket.readyState === WebSocket.OPEN) {
            this.socket.send(JSON.stringify({ unsubscribe: [name] }));
          }
        }
      };
    }
  }

  /* ------------------------------------------------------------------ objects */

  const FOLDERS = {
    root: 'paleblue',
    parameters: 'Parameters',
    station: 'Station counters',
    images: 'Images',
    link: 'Link status',
    events: 'Events',
    commands: 'Command history',
    commanding: 'Commanding'
  };

  function parameterValue(p) {
    const value = {
      key: 'value',
      name: p.name,
      unit: p.unit || undefined,
      hints: { range: 1 }
    };
    if (p.enumeration) {
      value.format = 'enum';
      value.enumerations = Object.entries(p.enumeration).map(([string, v]) => ({ value: v, string }));
    } else {
      value.format = p.type === 'float' ? 'float' : 'number';
      value.formatString = '%.8g'; // calibrated values without float noise (-9.997678, not ...008)
    }
    return value;
  }

  const UTC_VALUE = {
    key: 'utc',
    source: 'utc',
    name: 'Time',
    format: 'utc',
    hints: { domain: 1 }
  };

  function buildObjects(dictionary) {
    const objects = new Map();
    const parameters = new Map();
    const add = (key, object) => {
      objects.set(key, { identifier: id(key), ...object });
    };
    add('root', {
      name: dictionary.mission === 'paleblue' ? 'paleblue' : 'paleblue ' + dictionary.mission,
      type: 'folder',
      location: 'ROOT',
      composition: ['overview', 'parameters', 'station', 'images', 'link', 'events', 'commands', 'commanding'].map(id)
    });
    // a display layout to start from: the image, two plots, link status and the events
    const frame = (key, x, y, width, height, namespace = NS) => ({
      type: 'subobject-view',
      identifier: { namespace, key },
      id: 'overview-' + key,
      x, y, width, height,
      hasFrame: true,
      fontSize: 'default',
      font: 'default'
    });
    const plots = ['DETECTOR_TEMP', 'DOWNLINK_QUEUE'].filter((n) => dictionary.parameters.some((p) => p.name === n));
    const items = [frame('images', 0, 0, 42, 60)];
    plots.forEach((name, j) => items.push(frame('p.' + name, 43 + 41 * j, 0, 40, 30)));
    items.push(frame('link', 43, 31, 40, 29));
    items.push(frame('events', 84, 31, 40, 29));
    add('overview', {
      name: 'Overview',
      type: 'layout',
      location: keystring('root'),
      composition: items.map((i) => i.identifier),
      configuration: { items, layoutGrid: [10, 10], objectStyles: {} }
    });
    for (const p of dictionary.parameters) {
      parameters.set(p.name, p);
      add('p.' + p.name, {
        name: p.name,
        type: 'paleblue.parameter',
        location: keystring('parameters'),
        notes: p.description,
        paleblue: { parameter: p.name, enumeration: Boolean(p.enumeration) },
        telemetry: { values: [UTC_VALUE, parameterValue(p)] }
      });
    }
    for (const name of dictionary.station_parameters) {
      const p = { name, type: 'float', unit: '' };
      parameters.set(name, p);
      add('p.' + name, {
        name: name.replace(/^station\./, ''),
        type: 'paleblue.parameter',
        location: keystring('station'),
        paleblue: { parameter: name, enumeration: false },
        telemetry: { values: [UTC_VALUE, parameterValue(p)] }
      });
    }
    add('parameters', {
      name: FOLDERS.parameters,
      type: 'folder',
      location: keystring('root'),
      composition: dictionary.parameters.map((p) => id('p.' + p.name))
    });
    add('station', {
      name: FOLDERS.station,
      type: 'folder',
      location: keystring('root'),
      composition: dictionary.station_parameters.map((name) => id('p.' + name))
    });
    add('events', {
      name: FOLDERS.events,
      type: 'paleblue.log',
      location: keystring('root'),
      paleblue: { log: 'events' },
      telemetry: {
        values: [
          UTC_VALUE,
          { key: 'event', name: 'Event', format: 'string', hints: { range: 1 } },
          { key: 'severity', name: 'Severity', format: 'string', hints: { range: 2 } },
          { key: 'message', name: 'Arguments', format: 'string', hints: { range: 3 } }
        ]
      }
    });
    add('commands', {
      name: FOLDERS.commands,
      type: 'paleblue.log',
      location: keystring('root'),
      paleblue: { log: 'commands' },
      telemetry: {
        values: [
          UTC_VALUE,
          { key: 'request', name: 'Request', format: 'string', hints: { range: 1 } },
          { key: 'stage', name: 'Stage', format: 'string', hints: { range: 2 } },
          { key: 'result', name: 'Result', format: 'string', hints: { range: 3 } }
        ]
      }
    });
    add('images', { name: FOLDERS.images, type: 'paleblue.images', location: keystring('root') });
    add('link', { name: FOLDERS.link, type: 'paleblue.link', location: keystring('root') });
    add('commanding', {
      name: FOLDERS.commanding,
      type: 'paleblue.commanding',
      location: keystring('root')
    });
    return { objects, parameters };
  }

  /* ------------------------------------------------------------------ telemetry providers */

  function parameterProvider(api, parameters) {
    const datum = (name, tai, value, raw, enumerated) => ({
      id: name,
      utc: api.time.utcMs(tai),
      value: enumerated ? raw : value
    });
    return {
      supportsRequest: (o) => o.type === 'paleblue.parameter',
      supportsSubscribe: (o) => o.type === 'paleblue.parameter' && api.config.live,
      async request(o, options) {
        const name = o.paleblue.parameter;
        const enumerated = o.paleblue.enumeration;
        if (options && options.strategy === 'latest' && options.size === 1 && api.config.live) {
          try {
            const u = await api.get('/api/parameters/' + encodeURIComponent(name) + '/latest');
            return [datum(name, u.tai, u.value, u.raw ?? u.value, enumerated)];
          } catch (e) {
            return [];
          }
        }
        if (!api.config.archive) return [];
        const range = new URLSearchParams();
        if (options && Number.isFinite(options.start)) range.set('start', api.time.iso(options.start));
        if (options && Number.isFinite(options.end)) range.set('end', api.time.iso(options.end));
        if (enumerated) range.set('raw', 'true');
        const path = '/api/parameters/' + encodeURIComponent(name) + '/history?';
        let answer = await fetch(path + range);
        if (answer.status === 413) {
          range.set('buckets', '2000'); // a range too long for every sample: min/mean/max buckets
          answer = await fetch(path + range);
        }
        if (!answer.ok) return [];
        const history = await answer.json();
        if (history.buckets) {
          return history.buckets.map((b) => ({ id: name, utc: api.time.utcMs(b.tai), value: b.mean }));
        }
        return history.samples.map((s) => datum(name, s.tai, s.value, s.value, false));
      },
      subscribe(o, callback) {
        const enumerated = o.paleblue.enumeration;
        return api.subscribe(o.paleblue.parameter, (u) =>
          callback({ id: u.name, utc: u.utc, value: enumerated ? u.raw : u.value })
        );
      }
    };
  }

  function formatArguments(args) {
    if (!args) return '';
    return Object.entries(args)
      .map(([k, v]) => k + '=' + v)
      .join(' ');
  }

  function logProvider(api) {
    const event = (e) => ({
      utc: api.time.utcMs(e.tai ?? e.gen),
      event: e.name,
      severity: e.severity,
      message: formatArguments(e.arguments || e.values)
    });
    const stage = (c) => ({
      utc: api.time.utcMs(c.tai ?? c.gen),
      request: c.request,
      stage: c.stage,
      result: c.success ? 'ok' : 'FAILED' + (c.failure ? ': ' + c.failure : '')
    });
    return {
      supportsRequest: (o) => o.type === 'paleblue.log',
      supportsSubscribe: (o) => o.type === 'paleblue.log' && api.config.live,
      async request(o, options) {
        if (!api.config.archive) return [];
        const range = new URLSearchParams();
        if (options && Number.isFinite(options.start)) range.set('start', api.time.iso(options.start));
        if (options && Number.isFinite(options.end)) range.set('end', api.time.iso(options.end));
        const kind = o.paleblue.log;
        const rows = await api.get('/api/' + kind + '?' + range).catch(() => []);
        return rows.map(kind === 'events' ? event : (r) => stage({ ...r, ...(r.detail || {}) }));
      },
      subscribe(o, callback) {
        const kind = o.paleblue.log;
        return api.onType(kind === 'events' ? 'event' : 'verification', (u) =>
          callback(kind === 'events' ? event(u) : stage(u))
        );
      }
    };
  }

  function limitProvider(parameters) {
    const LEVELS = {
      rh: { cssClass: 'is-limit--upr is-limit--red', name: 'Red High' },
      rl: { cssClass: 'is-limit--lwr is-limit--red', name: 'Red Low' },
      yh: { cssClass: 'is-limit--upr is-limit--yellow', name: 'Yellow High' },
      yl: { cssClass: 'is-limit--lwr is-limit--yellow', name: 'Yellow Low' }
    };
    const limitsOf = (o) => parameters.get(o.paleblue.parameter)?.limits;
    return {
      supportsLimits: (o) => o.type === 'paleblue.parameter' && Boolean(limitsOf(o)),
      getLimitEvaluator(o) {
        const l = limitsOf(o);
        return {
          evaluate(datum) {
            const v = datum.value;
            if (l.red_high !== null && v > l.red_high) return LEVELS.rh;
            if (l.red_low !== null && v < l.red_low) return LEVELS.rl;
            if (l.yellow_high !== null && v > l.yellow_high) return LEVELS.yh;
            if (l.yellow_low !== null && v < l.yellow_low) return LEVELS.yl;
            return undefined;
          }
        };
      },
      getLimits(o) {
        const l = limitsOf(o);
        const pair = (low, high, color) => ({
          low: { color, value: low ?? -Infinity },
          high: { color, value: high ?? Infinity }
        });
        return {
          limits: () =>
            Promise.resolve({
              WARNING: pair(l.yellow_low, l.yellow_high, 'yellow'),
              DISTRESS: pair(l.red_low, l.red_high, 'red')
            })
        };
      }
    };
  }

  /* ------------------------------------------------------------------ alarms (fault management) */

  function faultProvider(api, parameters) {
    const faults = new Map();
    const SEVERITY = { RED: 'CRITICAL', YELLOW: 'WARNING', NOMINAL: 'WATCH' };
    const fault = (a) => ({
      id: a.parameter,
      name: a.parameter,
      namespace: '/paleblue/limits',
      seqNum: a.triggers || 0,
      severity: SEVERITY[a.level] || 'WATCH',
      acknowledged: a.state === 'acknowledged' || a.state === 'normal',
      shelved: a.state === 'shelved',
      shortDescription: a.parameter + ' ' + a.level + ' (' + a.state + ')',
      triggerTime: a.time || '',
      triggerValueInfo: {
        value: a.value,
        rangeCondition: a.level,
        monitoringResult: a.level === 'RED' ? 'CRITICAL' : a.level
      },
      currentValueInfo: {
        value: a.value,
        rangeCondition: a.level,
        monitoringResult: a.level === 'RED' ? 'CRITICAL' : a.level
      },
      paleblueState: a.state
    });
    const fetchAll = async () => {
      const alarms = await api.get('/api/alarms').catch(() => []);
      faults.clear();
      for (const a of alarms) faults.set(a.parameter, fault(a));
      return [...faults.values()].filter((f) => f.paleblueState !== 'normal');
    };
    return {
      supportsRequest: () => true,
      supportsSubscribe: () => true,
      async request() {
        return (await fetchAll()).map((f) => ({ type: 'alarms', fault: f }));
      },
      subscribe(o, callback) {
        // any alarm change: Open MCT asks again for the whole list ('global-alarm-status')
        const stop = api.onType('alarm', () => callback({ type: 'global-alarm-status' }));
        const timer = setInterval(() => callback({ type: 'global-alarm-status' }), 5 * SECOND);
        return () => {
          stop();
          clearInterval(timer);
        };
      },
      async acknowledgeFault(f) {
        await api.post('/api/alarms/' + encodeURIComponent(f.id) + '/acknowledge');
        api.dispatchType('alarm', { type: 'alarm', name: f.id });
      },
      async shelveFault(f, data) {
        const seconds = data && data.shelveDuration ? data.shelveDuration / SECOND : 7 * 86400;
        if (data && data.shelved === false) {
          // unshelve: shelved until now, so it comes back with its state
          await api.post('/api/alarms/' + encodeURIComponent(f.id) + '/shelve', { seconds: 0.001 });
        } else {
          await api.post('/api/alarms/' + encodeURIComponent(f.id) + '/shelve', { seconds });
        }
        api.dispatchType('alarm', { type: 'alarm', name: f.id });
      },
      getShelveDurations: () => [
        { name: '5 Minutes', value: 5 * MINUTE },
        { name: '1 Hour', value: 60 * MINUTE },
        { name: '1 Day', value: 1440 * MINUTE }
      ]
    };
  }

  /* ------------------------------------------------------------------ views */

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attributes || {})) {
      if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function view(type, key, name, render) {
    return {
      key,
      name,
      cssClass: 'icon-object',
      canView: (o) => o.type === type,
      view(o) {
        let stop = () => {};
        return {
          show(element) {
            element.classList.add('paleblue-view');
            stop = render(element, o) || (() => {});
          },
          destroy() {
            stop();
          }
        };
      },
      priority: () => 1
    };
  }

  /** Images: each as it fills (segments received / total, the bar shows what is missing), then
   * the finished quick-look with the measured body centre drawn over it. */
  function imagesView(api) {
    return view('paleblue.images', 'paleblue.images.view', 'Images', (element) => {
      const list = el('div', { class: 'paleblue-images' });
      const note = el('div', { class: 'paleblue-note', text: 'waiting for images...' });
      element.append(note, list);
      const cards = new Map();
      const card = (key, title) => {
        if (!cards.has(key)) {
          const bar = el('div', { class: 'paleblue-bar-fill' });
          const label = el('div', { class: 'paleblue-image-label', text: title });
          const figure = el('div', { class: 'paleblue-figure' });
          const node = el(
            'div',
            { class: 'paleblue-image', 'data-image': key },
            label,
            el('div', { class: 'paleblue-bar' }, bar),
            figure
          );
          list.append(node);
          cards.set(key, { node, bar, label, figure });
          note.textContent = '';
        }
        return cards.get(key);
      };
      const progress = (u) => {
        const key = u.image_id !== null ? 'image ' + u.image_id : 'transaction ' + u.transaction;
        const c = card(key, key);
        const total = u.segments_total ? ' / ' + u.segments_total : '';
        c.bar.style.width = u.percent + '%';
        c.node.dataset.percent = u.percent;
        c.node.dataset.state = u.done ? (u.complete ? 'complete' : 'incomplete') : 'filling';
        c.label.textContent =
          key + ' (' + u.delivery + '): ' + u.segments_received + total + ' segments, ' +
          u.percent.toFixed(1) + ' %' + (u.done ? (u.complete ? ', complete' : ', INCOMPLETE') : '');
      };
      const finished = async (name, imageId, complete) => {
        const key = imageId !== null && imageId !== undefined ? 'image ' + imageId : name;
        const c = card(key, name);
        c.node.dataset.name = name;
        c.node.dataset.state = complete ? 'complete' : 'incomplete';
        if (complete) {
          c.bar.style.width = '100%';
          c.node.dataset.percent = 100;
        }
        c.label.textContent = name + (complete ? ': complete' : ': INCOMPLETE');
        let info = {};
        try {
          info = (await api.get('/api/images')).filter((i) => i.name === name).pop()?.info || {};
        } catch (e) {
          /* the archive may not be there: the picture alone */
        }
        const img = el('img', { class: 'paleblue-quicklook', alt: name, src: '/api/images/' + name + '.png' });
        const overlay = el('div', { class: 'paleblue-overlay' });
        c.figure.replaceChildren(el('div', { class: 'paleblue-frame' }, img, overlay));
        img.onload = () => {
          c.node.dataset.loaded = 'true';
          drawCentre(overlay, img, info);
          if (!complete) drawMissing(c, overlay, name, info);
        };
        let tries = 0;
        img.onerror = () => {
          // the station lists an image before its product worker has written the quick-look
          if (++tries < 40) {
            setTimeout(() => (img.src = '/api/images/' + name + '.png?try=' + tries), 250);
            if (!info.measurement) {
              api.get('/api/images').then((all) => {
                info = all.filter((i) => i.name === name).pop()?.info || info;
              }, () => {});
            }
          } else {
            c.figure.replaceChildren(el('div', { class: 'paleblue-note', text: 'no quick-look for ' + name }));
          }
        };
        const bodies = Object.entries(info.measurement || {}).filter(([, m]) => m && m.status === 'detected');
        c.label.textContent =
          name + (complete ? ': complete' : ': INCOMPLETE') +
          (info.missing_octets ? ', ' + info.missing_octets + ' octets missing' : '') +
          bodies.map(([b, m]) => ', ' + b + ' at (' + m.u.toFixed(1) + ', ' + m.v.toFixed(1) + ')').join('');
      };
      const stops = [
        api.onType('image_progress', progress),
        api.onType('image', (u) => finished(u.name, u.image_id, u.complete))
      ];
      api.progress.forEach(progress);
      api.finished.forEach((u) => finished(u.name, u.image_id, u.complete));
      if (api.config.archive) {
        api.get('/api/images').then((images) => {
          for (const i of images) finished(i.name, i.info.image_id, i.complete);
        }, () => {});
      }
      return () => stops.forEach((s) => s());
    });
  }

  /** An incomplete image's missing ranges (octets of its pixels, from its truth JSON): red on the
   * bar, and red bands over the rows of the quick-look they fall in. */
  async function drawMissing(c, overlay, name, info) {
    let truth;
    try {
      truth = await fetch('/api/images/' + name + '.json').then((a) => (a.ok ? a.json() : null));
    } catch (e) {
      truth = null;
    }
    const received = truth && truth.received;
    if (!received || !Array.isArray(received.missing_ranges)) return;
    const width = info.width || truth.camera?.width_px;
    const height = info.height || truth.camera?.height_px;
    const octetsPerPixel = (received.bit_depth || 16) > 8 ? 2 : 1;
    const total = width * height * octetsPerPixel;
    if (!total) return;
    const bar = c.bar.parentElement;
    c.bar.style.width = '100%';
    for (const [start, end] of received.missing_ranges) {
      const gap = el('div', { class: 'paleblue-missing', title: 'octets ' + start + '-' + (end - 1) + ' missing' });
      gap.style.left = (100 * start) / total + '%';
      gap.style.width = Math.max((100 * (end - start)) / total, 0.3) + '%';
      bar.append(gap);
      const row = width * octetsPerPixel;
      const band = el('div', { class: 'paleblue-missing-rows' });
      band.style.top = (100 * Math.floor(start / row)) / height + '%';
      band.style.height = Math.max((100 * (Math.ceil(end / row) - Math.floor(start / row))) / height, 0.3) + '%';
      overlay.append(band);
    }
    c.node.dataset.missingRanges = received.missing_ranges.length;
  }

  /** The measured body centres over the quick-look: the centroid (a cross), the limb fit (its
   * circle) and the horizon fix (a dot), per body, each titled with its numbers. */
  function drawCentre(overlay, img, info) {
    const width = info.width || img.naturalWidth;
    const height = info.height || img.naturalHeight;
    overlay.replaceChildren();
    const place = (node, u, v) => {
      node.style.left = (100 * u) / width + '%';
      node.style.top = (100 * v) / height + '%';
      overlay.append(node);
    };
    for (const [body, m] of Object.entries(info.measurement || {})) {
      if (!m || typeof m !== 'object' || m.status !== 'detected') continue;
      if (typeof m.u === 'number') {
        place(el('div', { class: 'paleblue-mark paleblue-centroid', 'data-body': body, title: body + ' centroid (' + m.u.toFixed(1) + ', ' + m.v.toFixed(1) + ')' }), m.u, m.v);
        place(el('div', { class: 'paleblue-mark-label', text: body }), m.u, m.v);
      }
      const limb = m.limb;
      if (limb && typeof limb.u === 'number') {
        const circle = el('div', { class: 'paleblue-mark paleblue-limb', 'data-body': body, title: body + ' limb fit (' + limb.u.toFixed(1) + ', ' + limb.v.toFixed(1) + '), r ' + limb.radius_px.toFixed(1) + ' px' });
        const diameter = Math.max((200 * limb.radius_px) / width, 1.2);
        circle.style.width = diameter + '%';
        circle.style.height = circle.style.width;
        circle.style.transform = 'translate(-50%, -50%)';
        place(circle, limb.u, limb.v);
      }
      const horizon = m.horizon;
      if (horizon && typeof horizon.u === 'number') {
        place(el('div', { class: 'paleblue-mark paleblue-horizon', 'data-body': body, title: body + ' horizon fix (' + horizon.u.toFixed(1) + ', ' + horizon.v.toFixed(1) + ')' }), horizon.u, horizon.v);
      }
    }
  }

  /** Link status: frames good / corrected / lost per channel, the light time the station allows
   * for, CFDP transactions in progress, and every counter of the station below. */
  const CHANNEL_COLUMNS = [
    ['frames good', ['frames_good', 'frames']],
    ['corrected', ['frames_corrected']],
    ['uncorrectable', ['uncorrectable']],
    ['CRC failures', ['crc_failures']],
    ['frames lost', ['mc_frames_missing', 'frames_missing']],
    ['packets', ['packets']],
    ['packets lost', ['packets_lost']]
  ];

  function linkView(api) {
    return view('paleblue.link', 'paleblue.link.view', 'Link status', (element) => {
      const state = el('div', { class: 'paleblue-note paleblue-link-state' });
      const facts = el('div', { class: 'paleblue-row paleblue-link-facts' });
      const channels = el('table', { class: 'paleblue-table paleblue-channels' });
      const header = el('tr', {}, el('th', { text: 'channel' }), ...CHANNEL_COLUMNS.map(([t]) => el('th', { text: t })));
      channels.append(header);
      const table = el('table', { class: 'paleblue-table paleblue-link' });
      const all = el('details', {}, el('summary', { text: 'every station counter' }), table);
      element.append(state, facts, channels, all);
      const rows = new Map();
      const channelRows = new Map();
      const light = api.config.round_trip_light_time_s;
      const showFacts = () => {
        const cfdp = [...api.progress.values()].filter((u) => u.delivery === 'cfdp' && !u.done);
        facts.replaceChildren(
          light === null || light === undefined ? '' : el('span', { class: 'paleblue-fact', 'data-fact': 'light-time', text: 'one-way light time ' + (light / 2).toFixed(3) + ' s' }),
          el('span', { class: 'paleblue-fact', 'data-fact': 'cfdp', text: 'CFDP transactions in progress: ' + cfdp.length + (cfdp.length ? ' (' + cfdp.map((u) => u.transaction + ' ' + u.percent.toFixed(0) + ' %').join(', ') + ')' : '') })
        );
      };
      const showChannels = (counters) => {
        const byChannel = new Map();
        for (const [name, value] of Object.entries(counters)) {
          const m = /^station\.link\.([^.]+)\.(physical|virtual\.(\d+))\.(.+)$/.exec(name);
          if (!m) continue;
          const channel = m[2] === 'physical' ? m[1] + ' master channel' : m[1] + ' VC ' + m[3];
          if (!byChannel.has(channel)) byChannel.set(channel, {});
          byChannel.get(channel)[m[4]] = value;
        }
        for (const [channel, values] of byChannel) {
          if (!channelRows.has(channel)) {
            const cells = CHANNEL_COLUMNS.map(() => el('td', { class: 'paleblue-number' }));
            channels.append(el('tr', { 'data-channel': channel }, el('td', { text: channel }), ...cells));
            channelRows.set(channel, cells);
          }
          CHANNEL_COLUMNS.forEach(([, keys], j) => {
            const key = keys.find((k) => values[k] !== undefined);
            const cell = channelRows.get(channel)[j];
            cell.textContent = key === undefined ? '' : values[key];
            cell.classList.toggle('paleblue-failed', j > 0 && j !== 1 && j !== 5 && Number(values[key]) > 0);
          });
        }
      };
      const show = (counters, when) => {
        for (const [name, value] of Object.entries(counters)) {
          if (!rows.has(name)) {
            const cell = el('td', { class: 'paleblue-number' });
            table.append(el('tr', { 'data-counter': name }, el('td', { text: name.replace(/^station\./, '') }), cell));
            rows.set(name, cell);
          }
          rows.get(name).textContent = Number.isInteger(value) ? value : value.toFixed(3);
        }
        showChannels(counters);
        showFacts();
        state.textContent = 'connection: ' + api.status + (when ? ', station time ' + api.time.iso(when) : '');
      };
      const stops = [
        api.onType('link', (u) => show(u.counters, u.utc)),
        api.onType('image_progress', showFacts),
        api.onType('connection', () => show({}, null))
      ];
      if (api.lastLink) show(api.lastLink.counters, api.lastLink.utc);
      else show({}, null);
      if (!api.config.live && api.config.archive) {
        api.get('/api/parameters?pattern=station.*').then(async (infos) => {
          const latest = await Promise.all(
            infos.map((info) => api.get('/api/parameters/' + encodeURIComponent(info.name) + '/latest').catch(() => null))
          );
          const counters = {};
          latest.forEach((l, j) => l && (counters[infos[j].name] = l.value));
          show(counters, infos.length ? api.time.utcMs(Math.max(...latest.map((l) => (l ? l.tai : 0)))) : null);
        }, () => {});
      }
      return () => stops.forEach((s) => s());
    });
  }

  /** Commanding: commands and arguments from the dictionary, checked here before sending; the
   * station checks again and answers 422 with the reason. Needs the operator token. */
  function commandingView(api, dictionary) {
    return view('paleblue.commanding', 'paleblue.commanding.view', 'Commanding', (element) => {
      const token = el('input', { type: 'password', class: 'paleblue-token', placeholder: 'operator token' });
      token.value = api.token();
      token.addEventListener('change', () => window.sessionStorage.setItem('paleblue.token', token.value.trim()));
      const select = el('select', { class: 'paleblue-command' });
      for (const c of dictionary.commands) select.append(el('option', { value: c.name, text: c.name }));
      const args = el('div', { class: 'paleblue-arguments' });
      const send = el('button', { class: 'c-button c-button--major paleblue-send', text: 'Send' });
      const result = el('div', { class: 'paleblue-result' });
      const history = el('table', { class: 'paleblue-table paleblue-history' });
      element.append(
        el('div', { class: 'paleblue-row' }, el('label', { text: 'Token ' }), token),
        el('div', { class: 'paleblue-row' }, el('label', { text: 'Command ' }), select),
        args,
        el('div', { class: 'paleblue-row' }, send),
        result,
        el('h3', { text: 'Verification' }),
        history
      );
      const inputs = new Map();
      const layout = () => {
        const command = dictionary.commands.find((c) => c.name === select.value);
        args.replaceChildren();
        inputs.clear();
        for (const a of command.arguments) {
          let input;
          if (a.enumeration) {
            input = el('select', { 'data-argument': a.name });
            for (const name of Object.keys(a.enumeration)) input.append(el('option', { value: name, text: name }));
          } else {
            input = el('input', { 'data-argument': a.name, type: 'number', value: a.range ? a.range[0] : 0 });
          }
          inputs.set(a.name, [a, input]);
          const hint = (a.unit ? ' ' + a.unit : '') + (a.range ? ' [' + a.range[0] + ', ' + a.range[1] + ']' : '');
          args.append(el('div', { class: 'paleblue-row' }, el('label', { text: a.name + ' ' }), input, el('span', { text: hint })));
        }
      };
      select.addEventListener('change', layout);
      layout();
      const rows = new Map();
      const stage = (u) => {
        if (!rows.has(u.request)) {
          const cells = { sent: el('td'), acceptance: el('td'), start: el('td'), progress: el('td'), completion: el('td') };
          const row = el('tr', { 'data-request': u.request }, el('td', { text: u.request }), ...Object.values(cells));
          history.append(row);
          rows.set(u.request, { row, cells });
        }
        const { row, cells } = rows.get(u.request);
        const cell = cells[u.stage] || cells.progress;
        cell.textContent = u.stage + (u.success ? ' ok' : ' FAILED' + (u.failure ? ' (' + u.failure + ')' : ''));
        cell.className = u.success ? 'paleblue-ok' : 'paleblue-failed';
        row.dataset[u.stage] = u.success ? 'ok' : 'failed';
      };
      send.addEventListener('click', async () => {
        window.sessionStorage.setItem('paleblue.token', token.value.trim());
        const command = { name: select.value, arguments: {} };
        for (const [name, [a, input]] of inputs) {
          let value = input.value;
          if (!a.enumeration) {
            value = Number(value);
            if (!Number.isFinite(value) || (a.range && (value < a.range[0] || value > a.range[1]))) {
              result.textContent = 'refused here: ' + name + ' must be a number in [' + a.range + ']';
              result.className = 'paleblue-result paleblue-failed';
              return;
            }
          }
          command.arguments[name] = value;
        }
        try {
          const accepted = await api.post('/api/commands', command, true); // its own token field
          result.textContent = 'queued: ' + accepted.request;
          result.className = 'paleblue-result paleblue-ok';
        } catch (e) {
          result.textContent = 'refused: ' + e.message;
          result.className = 'paleblue-result paleblue-failed';
        }
      });
      const stops = [api.onType('verification', stage)];
      if (api.config.archive) {
        api.get('/api/commands').then((all) => all.forEach((c) => stage({ ...c, ...(c.detail || {}) })), () => {});
      }
      return () => stops.forEach((s) => s());
    });
  }

  /* ------------------------------------------------------------------ the plugin */

  function plugin(config) {
    return function install(openmct) {
      const api = new Api(config);
      window.paleblueApi = api; // for the browser test and the curious
      const time = api.time;
      const menuOptions = [];
      if (config.live) {
        api.clock = new SpacecraftClock(config.last_tai ? time.utcMs(config.last_tai) : Date.now());
        openmct.time.addClock(api.clock);
        menuOptions.push({
          name: 'Realtime',
          timeSystem: 'utc',
          clock: api.clock.key,
          clockOffsets: { start: -2 * MINUTE, end: 5 * SECOND }
        });
      }
      // the whole pass, a second either side (Open MCT keeps whole milliseconds)
      const first = config.first_tai ? Math.floor(time.utcMs(config.first_tai)) - SECOND : Date.now() - 30 * MINUTE;
      const last = config.last_tai ? Math.ceil(time.utcMs(config.last_tai)) + SECOND : Date.now();
      menuOptions.push({
        name: 'Fixed',
        timeSystem: 'utc',
        bounds: { start: first, end: Math.max(last, first + SECOND) }
      });
      openmct.install(openmct.plugins.Conductor({ menuOptions }));

      openmct.types.addType('paleblue.parameter', {
        name: 'paleblue parameter',
        description: 'A parameter of the mission database',
        cssClass: 'icon-telemetry'
      });
      openmct.types.addType('paleblue.log', { name: 'paleblue log', cssClass: 'icon-tabular-realtime' });
      openmct.types.addType('paleblue.images', { name: 'paleblue images', cssClass: 'icon-image' });
      openmct.types.addType('paleblue.link', { name: 'paleblue link status', cssClass: 'icon-connectivity' });
      openmct.types.addType('paleblue.commanding', { name: 'paleblue commanding', cssClass: 'icon-command' });

      const dictionary = api.get('/api/dictionary');
      if (config.live) {
        // the spacecraft clock follows housekeeping even when no view shows a parameter
        dictionary.then((d) => d.parameters.length && api.subscribe(d.parameters[0].name, () => {}));
      }
      const built = dictionary.then(buildObjects);
      openmct.objects.addRoot(id('root'));
      openmct.objects.addProvider(NS, {
        get: (identifier) =>
          built.then(({ objects }) => {
            const object = objects.get(identifier.key);
            return object ? structuredClone(object) : Promise.reject(new Error('no ' + identifier.key));
          })
      });
      openmct.composition.addProvider({
        appliesTo: (o) => o.identifier.namespace === NS && Array.isArray(o.composition),
        load: (o) => Promise.resolve(o.composition)
      });
      // providers registered now (Open MCT asks them as soon as a view opens); the map fills in
      // once the dictionary has come, before any object (so any view) exists
      const parameterMap = new Map();
      built.then(({ parameters }) => parameters.forEach((v, k) => parameterMap.set(k, v)));
      openmct.telemetry.addProvider(limitProvider(parameterMap));
      openmct.faults.addProvider(faultProvider(api, parameterMap));
      openmct.telemetry.addProvider(parameterProvider(api, parameterMap));
      openmct.telemetry.addProvider(logProvider(api));
      openmct.objectViews.addProvider(imagesView(api));
      openmct.objectViews.addProvider(linkView(api));
      dictionary.then((d) => openmct.objectViews.addProvider(commandingView(api, d)));

      openmct.on('start', () => {
        openmct.time.setTimeSystem('utc');
        if (config.live) {
          openmct.time.setClock(api.clock.key);
          openmct.time.setClockOffsets({ start: -2 * MINUTE, end: 5 * SECOND });
          openmct.time.setMode('realtime');
        } else {
          openmct.time.setMode('fixed', { start: first, end: Math.max(last, first + SECOND) });
        }
        api.connect();
      });
    };
  }

  window.paleblue = { plugin, makeTime };
})();
